-- People choose their own secrets: an admin hands over a one-time enrollment code
-- (stored hashed, with an expiry) and never sees the secret; failed sign-ins are kept
-- for rate limiting; grants that started a flow run are spent once.
ALTER TABLE users ALTER COLUMN token_salt DROP NOT NULL;   -- NULL until the user sets a secret
ALTER TABLE users ALTER COLUMN token_hash DROP NOT NULL;
ALTER TABLE users ADD COLUMN secret_set_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN code_salt BLOB;                -- the pending enrollment code, scrypt-hashed
ALTER TABLE users ADD COLUMN code_hash BLOB;
ALTER TABLE users ADD COLUMN code_expires_at TIMESTAMPTZ;

CREATE TABLE sign_in_failures (
    claimed_user VARCHAR NOT NULL,                          -- as claimed, cleaned; may name nobody
    address      VARCHAR NOT NULL,                          -- where the attempt came from ('local' for the CLI)
    failed_at    TIMESTAMPTZ NOT NULL
);

CREATE TABLE grants_spent (
    nonce      VARCHAR PRIMARY KEY,                         -- a grant starts one flow run, once
    user_id    VARCHAR NOT NULL,
    action     VARCHAR NOT NULL,
    spent_at   TIMESTAMPTZ NOT NULL
);
