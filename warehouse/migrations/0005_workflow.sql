-- People, search requests and their approval, and the blind two-person determination.
CREATE TABLE users (
    user_id         VARCHAR PRIMARY KEY,
    display_name    VARCHAR NOT NULL,
    roles           VARCHAR[] NOT NULL,       -- operator, analyst, supervisor, reviewer, auditor, admin
    certified_until DATE,                     -- facial-comparison certification (analysts, reviewers)
    token_salt      BLOB NOT NULL,
    token_hash      BLOB NOT NULL,            -- scrypt(token, salt); the token itself is never stored
    created_at      TIMESTAMPTZ NOT NULL,
    created_by      VARCHAR NOT NULL,
    disabled_at     TIMESTAMPTZ
);

CREATE TABLE requests (
    request_id      VARCHAR PRIMARY KEY,
    case_number     VARCHAR NOT NULL,
    offense_code    VARCHAR NOT NULL,
    justification   VARCHAR NOT NULL,
    gallery_id      VARCHAR NOT NULL,
    probe_path      VARCHAR NOT NULL,
    probe_sha256    VARCHAR NOT NULL,         -- the search runs only on these exact bytes
    requested_by    VARCHAR NOT NULL,
    requested_at    TIMESTAMPTZ NOT NULL,
    decision        VARCHAR,                  -- NULL while pending, then 'approved' or 'denied'
    decided_by      VARCHAR,
    decided_at      TIMESTAMPTZ,
    decision_reason VARCHAR,
    search_id       VARCHAR                   -- the one search the approval allowed, once run
);

CREATE TABLE determinations (
    search_id   VARCHAR NOT NULL,
    stage       VARCHAR NOT NULL,             -- 'analyst' or 'reviewer'
    user_id     VARCHAR NOT NULL,
    face_id     VARCHAR,                      -- NULL: no candidate
    recorded_at TIMESTAMPTZ NOT NULL,
    PRIMARY KEY (search_id, stage)
);

ALTER TABLE searches ADD COLUMN request_id VARCHAR;
