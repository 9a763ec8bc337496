-- A build is judged by what an analyst sees: of the faces scoring at or above its candidate
-- floor, the share its tuning probes found (one-sided 95% bound), and the share of mated
-- probes whose first candidate is exact search's first. `recall` (recall@50 over every
-- neighbour, mostly chance scores) stays for information.
ALTER TABLE index_builds ADD COLUMN candidate_floor DOUBLE;
ALTER TABLE index_builds ADD COLUMN floor_recall DOUBLE;
ALTER TABLE index_builds ADD COLUMN rank1_agreement DOUBLE;
-- How long ranking the gallery took in a search (index, delta and merge; or exact), for
-- the analyst's wait to be measured where it is spent.
ALTER TABLE searches ADD COLUMN rank_ms DOUBLE;
-- The moment the build read its gallery: faces enrolled after it (less a margin for
-- transactions then in flight) are the only ones a search must look for beside the index.
ALTER TABLE index_builds ADD COLUMN snapshot_at TIMESTAMPTZ;
