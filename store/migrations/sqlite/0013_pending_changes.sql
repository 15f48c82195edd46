-- A change to a control-plane mirror that needs an admin (a new URL, a wider audience),
-- waiting while the old values keep serving; one per mirror, a newer one replacing it.
CREATE TABLE pending_changes (
    name TEXT PRIMARY KEY,
    yaml TEXT NOT NULL,
    reasons TEXT NOT NULL,
    proposed_by TEXT NOT NULL,
    proposed_at BIGINT NOT NULL
);
