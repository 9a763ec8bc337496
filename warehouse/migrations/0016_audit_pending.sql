-- Audit rows written by a process that may not read the audit key (a flow run under
-- service.run_user): kept here, in the same transaction as the work they record, until the
-- service seals them into audit_log under the key, in the order they were written.
CREATE SEQUENCE audit_pending_id;
CREATE TABLE audit_pending (
    id        BIGINT PRIMARY KEY DEFAULT nextval('audit_pending_id'),
    logged_at TIMESTAMPTZ NOT NULL,
    actor     VARCHAR NOT NULL,
    action    VARCHAR NOT NULL,
    target    VARCHAR NOT NULL,
    details   VARCHAR NOT NULL               -- canonical JSON
);
