-- The image-quality gate: one row per face checked (metrics as observed) and one per
-- expectation of its suite, for enrollment runs and searches alike.
CREATE TABLE quality_validations (
    check_id         VARCHAR PRIMARY KEY,
    context          VARCHAR NOT NULL,        -- 'enrollment' or 'search'
    context_id       VARCHAR NOT NULL,        -- enrollment run id or search id
    gallery_id       VARCHAR NOT NULL,
    image_sha256     VARCHAR NOT NULL,
    source_path      VARCHAR NOT NULL,
    subject_id       VARCHAR,                 -- NULL for probes
    face_index       INTEGER NOT NULL,
    suite            VARCHAR NOT NULL,        -- 'gallery' or 'probe'
    suite_version    VARCHAR NOT NULL,        -- hash of the suite's checks and limits
    passed           BOOLEAN NOT NULL,
    failed_checks    VARCHAR NOT NULL,        -- readable list of failed checks; '' when passed
    image_width      INTEGER NOT NULL,
    image_height     INTEGER NOT NULL,
    is_colour        BOOLEAN NOT NULL,
    face_count       INTEGER NOT NULL,
    face_width_px    DOUBLE NOT NULL,
    inter_eye_px     DOUBLE NOT NULL,
    detector_score   DOUBLE NOT NULL,
    sharpness        DOUBLE NOT NULL,
    brightness       DOUBLE NOT NULL,
    clipped_fraction DOUBLE NOT NULL,
    contrast         DOUBLE NOT NULL,
    roll_deg         DOUBLE NOT NULL,
    yaw_deg          DOUBLE NOT NULL,
    pitch_deg        DOUBLE NOT NULL,
    checked_at       TIMESTAMPTZ NOT NULL
);

CREATE TABLE quality_results (
    check_id    VARCHAR NOT NULL,
    expectation VARCHAR NOT NULL,             -- the setting that sets its limit, e.g. min_inter_eye_px
    metric      VARCHAR NOT NULL,
    passed      BOOLEAN NOT NULL,
    observed    DOUBLE NOT NULL,
    min_value   DOUBLE,
    max_value   DOUBLE,
    reason      VARCHAR NOT NULL,             -- why a face fails this check
    PRIMARY KEY (check_id, expectation)
);

-- A search's probe verdict, and the analyst's reason when a probe below the bar was searched.
ALTER TABLE searches ADD COLUMN quality_check_id VARCHAR;
ALTER TABLE searches ADD COLUMN quality_failures VARCHAR;
ALTER TABLE searches ADD COLUMN quality_override VARCHAR;
