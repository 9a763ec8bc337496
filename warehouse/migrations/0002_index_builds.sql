-- ScaNN index builds, their members, removed enrollments, and what each search used.

-- Removing an enrollment hides the face from every search at once; the next index build leaves it out.
ALTER TABLE enrollments ADD COLUMN removed_at TIMESTAMPTZ;

CREATE TABLE index_builds (
    build_id      VARCHAR PRIMARY KEY,
    gallery_id    VARCHAR NOT NULL,
    model_id      VARCHAR NOT NULL,
    model_sha256  VARCHAR NOT NULL,
    folder        VARCHAR NOT NULL,          -- relative to the database's folder
    shards        INTEGER NOT NULL,
    vectors       INTEGER NOT NULL,
    params        VARCHAR NOT NULL,          -- JSON: ScaNN parameters
    file_hashes   VARCHAR NOT NULL,          -- JSON: {relative path: sha256}
    build_seconds DOUBLE NOT NULL,
    actor         VARCHAR NOT NULL,
    built_at      TIMESTAMPTZ NOT NULL,
    status        VARCHAR NOT NULL           -- 'active' (serving) or 'retired'
);

-- Which face is row `row` of shard `shard` of a build: the build's gallery snapshot.
CREATE TABLE index_members (
    build_id VARCHAR NOT NULL,
    shard    INTEGER NOT NULL,
    row      INTEGER NOT NULL,
    face_id  VARCHAR NOT NULL,
    PRIMARY KEY (build_id, shard, row)
);

ALTER TABLE searches ADD COLUMN index_build_id VARCHAR;   -- NULL: exact search
ALTER TABLE searches ADD COLUMN search_params VARCHAR;    -- JSON
ALTER TABLE searches ADD COLUMN delta_size INTEGER;       -- faces searched exactly beside the index
