-- Images whose faces were purged: never enrolled again from the same bytes. Hashes only.
CREATE TABLE purged_images (
    sha256    VARCHAR PRIMARY KEY,
    purged_at TIMESTAMPTZ NOT NULL
);
