-- Evaluations of a recogniser on a labeled set, and the score calibrations they yield.
CREATE TABLE evaluations (
    evaluation_id      VARCHAR PRIMARY KEY,
    report_id          VARCHAR NOT NULL,        -- one report may compare several models
    model_id           VARCHAR NOT NULL,
    detector_id        VARCHAR NOT NULL,
    dataset            VARCHAR NOT NULL,        -- the labeled set as given
    dataset_sha256     VARCHAR NOT NULL,        -- of its sorted (image sha256, identity, groups) rows
    images             INTEGER NOT NULL,
    failures_to_enroll INTEGER NOT NULL,
    metrics            JSON NOT NULL,
    report_dir         VARCHAR NOT NULL,
    actor              VARCHAR NOT NULL,
    created_at         TIMESTAMPTZ NOT NULL
);

-- Impostor scores (ascending) from which a score's chance of coming from a non-mate is read.
CREATE TABLE calibrations (
    calibration_id  VARCHAR PRIMARY KEY,
    model_id        VARCHAR NOT NULL,
    source          VARCHAR NOT NULL,           -- 'evaluation:<id> (<dataset>)'
    impostor_scores FLOAT[] NOT NULL,
    created_at      TIMESTAMPTZ NOT NULL
);
