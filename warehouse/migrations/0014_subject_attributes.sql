-- What an enrollment manifest says about each subject (sex, race, birth year: the names are
-- a setting), for reporting the gallery's error rates by group. A value is never used to
-- search. The newest row of a subject and attribute counts.
CREATE TABLE subject_attributes (
    gallery_id  VARCHAR NOT NULL,
    subject_id  VARCHAR NOT NULL,
    name        VARCHAR NOT NULL,
    value       VARCHAR NOT NULL,
    run_id      VARCHAR NOT NULL,               -- the enrollment run whose manifest said it
    recorded_at TIMESTAMPTZ NOT NULL
);
