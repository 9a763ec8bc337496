-- A gallery calibrates itself: at every index build (and on demand) the cross-subject pairs
-- of up to 4,600 of its faces are scored. A calibration now says what it was drawn from.
ALTER TABLE calibrations ADD COLUMN gallery_id VARCHAR;  -- NULL: a labeled set's evaluation
ALTER TABLE calibrations ADD COLUMN pairs BIGINT;        -- impostor pairs scored (impostor_scores: quantiles of them)
ALTER TABLE calibrations ADD COLUMN faces INTEGER;       -- faces whose pairs were scored
UPDATE calibrations SET pairs = len(impostor_scores);

-- The highest-scoring pairs of different subjects in a gallery calibration: the same person
-- enrolled under two ids, or a chance look-alike. Listed for operators to mark.
CREATE TABLE possible_duplicates (
    calibration_id VARCHAR NOT NULL,
    rank           INTEGER NOT NULL,
    gallery_id     VARCHAR NOT NULL,
    subject_a      VARCHAR NOT NULL,            -- subject_a < subject_b
    face_a         VARCHAR NOT NULL,
    subject_b      VARCHAR NOT NULL,
    face_b         VARCHAR NOT NULL,
    score          DOUBLE NOT NULL,
    PRIMARY KEY (calibration_id, rank)
);

-- An operator's word on a pair of subjects: the same person (their pairs are no longer
-- impostors in the next calibration) or different people. The newest mark of a pair counts.
CREATE TABLE subject_pair_marks (
    gallery_id  VARCHAR NOT NULL,
    subject_a   VARCHAR NOT NULL,               -- subject_a < subject_b
    subject_b   VARCHAR NOT NULL,
    same_person BOOLEAN NOT NULL,
    note        VARCHAR NOT NULL,
    actor       VARCHAR NOT NULL,
    marked_at   TIMESTAMPTZ NOT NULL
);
