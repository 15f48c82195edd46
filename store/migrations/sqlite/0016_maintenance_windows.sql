-- Maintenance windows operators and admins declare: [starts_at, ends_at) on a mirror (by
-- name), or on one protocol or address family of it (scope). Rows are never deleted: a
-- window ended early keeps its new end, one cancelled before it started (or merged into
-- another) keeps cancelled_at; revision counts its changes, for the leader's change mark.
-- confirmed_at: when a check after its end found the mirror current (until then, the mirror
-- stays out of the answers).
CREATE TABLE maintenance_windows (
    id INTEGER PRIMARY KEY,
    mirror TEXT NOT NULL,
    scope TEXT NOT NULL,
    starts_at BIGINT NOT NULL,
    ends_at BIGINT NOT NULL,
    note TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    revision BIGINT NOT NULL,
    cancelled_at BIGINT,
    confirmed_at BIGINT
);
CREATE INDEX maintenance_windows_by_mirror ON maintenance_windows (mirror, ends_at);
