-- facelead schema, version 1. Append-only: later changes go in new numbered files.

CREATE TABLE galleries (
    gallery_id   VARCHAR PRIMARY KEY,
    created_at   TIMESTAMPTZ NOT NULL
);

CREATE TABLE subjects (
    subject_id        VARCHAR PRIMARY KEY,
    first_enrolled_at TIMESTAMPTZ NOT NULL
);

-- A model that produced stored vectors, named by manifest id and its file's SHA-256.
CREATE TABLE models (
    model_id     VARCHAR PRIMARY KEY,
    manifest_id  VARCHAR NOT NULL,
    role         VARCHAR NOT NULL,
    sha256       VARCHAR NOT NULL,
    output_dim   INTEGER,
    licence      VARCHAR,
    registered_at TIMESTAMPTZ NOT NULL
);

-- Gallery images, keyed by the SHA-256 of their bytes (re-runs are idempotent).
CREATE TABLE images (
    sha256        VARCHAR PRIMARY KEY,
    source_path   VARCHAR NOT NULL,
    source        VARCHAR,
    acquired_at   TIMESTAMPTZ,
    width         INTEGER NOT NULL,
    height        INTEGER NOT NULL,
    face_count    INTEGER NOT NULL,
    first_seen_at TIMESTAMPTZ NOT NULL
);

CREATE TABLE faces (
    face_id        VARCHAR PRIMARY KEY,        -- <image sha256>/<face index>
    image_sha256   VARCHAR NOT NULL,
    face_index     INTEGER NOT NULL,
    box            FLOAT[4] NOT NULL,          -- x, y, width, height in image pixels
    landmarks      FLOAT[10] NOT NULL,         -- (x, y) of right eye, left eye, nose, right and left mouth corner
    detector_score FLOAT NOT NULL,
    detector_id    VARCHAR NOT NULL,
    thumbnail      BLOB NOT NULL               -- JPEG of the face, for candidate sheets
);

-- The vector's length is the model's output size; nothing here assumes one.
CREATE TABLE embeddings (
    face_id   VARCHAR NOT NULL,
    model_id  VARCHAR NOT NULL,
    vector    FLOAT[] NOT NULL,
    PRIMARY KEY (face_id, model_id)
);

CREATE TABLE enrollment_runs (
    run_id      VARCHAR PRIMARY KEY,
    gallery_id  VARCHAR NOT NULL,
    model_id    VARCHAR NOT NULL,
    input       VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    started_at  TIMESTAMPTZ NOT NULL,
    finished_at TIMESTAMPTZ,
    images_seen INTEGER,
    enrolled    INTEGER,
    duplicates  INTEGER,
    refused     INTEGER
);

CREATE TABLE enrollments (
    gallery_id  VARCHAR NOT NULL,
    face_id     VARCHAR NOT NULL,
    model_id    VARCHAR NOT NULL,
    subject_id  VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL,
    enrolled_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (gallery_id, face_id, model_id)
);

-- Images that were not enrolled, with the reason. sha256 is '' when the file was unreadable.
CREATE TABLE refusals (
    gallery_id  VARCHAR NOT NULL,
    model_id    VARCHAR NOT NULL,
    source_path VARCHAR NOT NULL,
    sha256      VARCHAR NOT NULL,
    subject_id  VARCHAR,
    reason      VARCHAR NOT NULL,
    detail      VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL,
    refused_at  TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (gallery_id, model_id, source_path, sha256)
);

CREATE TABLE searches (
    search_id         VARCHAR PRIMARY KEY,
    case_number       VARCHAR NOT NULL,
    gallery_id        VARCHAR NOT NULL,
    model_id          VARCHAR NOT NULL,
    detector_id       VARCHAR NOT NULL,
    method            VARCHAR NOT NULL,       -- 'exact', or the index build that answered
    k                 INTEGER NOT NULL,
    gallery_size      INTEGER NOT NULL,
    probe_sha256      VARCHAR NOT NULL,       -- the probe itself is never enrolled
    probe_path        VARCHAR NOT NULL,
    probe_face_index  INTEGER NOT NULL,
    probe_face_count  INTEGER NOT NULL,
    probe_box         FLOAT[4] NOT NULL,
    probe_thumbnail   BLOB NOT NULL,
    actor             VARCHAR NOT NULL,
    created_at        TIMESTAMPTZ NOT NULL
);

CREATE TABLE candidates (
    search_id  VARCHAR NOT NULL,
    rank       INTEGER NOT NULL,
    face_id    VARCHAR NOT NULL,
    subject_id VARCHAR NOT NULL,
    score      DOUBLE NOT NULL,               -- cosine similarity; never a "match"
    PRIMARY KEY (search_id, rank)
);

-- Append-only, hash-chained: row_hash = SHA-256(prev_hash || canonical row content).
CREATE TABLE audit_log (
    seq       BIGINT PRIMARY KEY,
    logged_at TIMESTAMPTZ NOT NULL,
    actor     VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    target    VARCHAR NOT NULL,
    details   VARCHAR NOT NULL,               -- canonical JSON
    prev_hash VARCHAR NOT NULL,
    row_hash  VARCHAR NOT NULL
);
