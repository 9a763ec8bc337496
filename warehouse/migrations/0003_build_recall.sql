-- What recall@50 each build reached when tuned, and whether it fell back to exact search.
ALTER TABLE index_builds ADD COLUMN recall DOUBLE;
ALTER TABLE index_builds ADD COLUMN exact_fallback BOOLEAN NOT NULL DEFAULT false;
