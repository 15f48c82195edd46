-- The crawl schedule shared by every checker on this store: when each mirror is next due, and
-- which checker holds it while checking it (a lease: a checker that dies gives its mirrors
-- back when the lease runs out). Claims take due rows no live lease holds.
CREATE TABLE crawl_schedule (
    mirror_id BIGINT PRIMARY KEY REFERENCES mirrors (id) ON DELETE CASCADE,
    due_at BIGINT NOT NULL,
    holder TEXT,
    lease_until BIGINT,
    last_checked_at BIGINT,
    last_checked_by TEXT,
    -- Completed checks of this mirror since it was scheduled.
    checks BIGINT NOT NULL DEFAULT 0
);
CREATE INDEX crawl_schedule_by_due ON crawl_schedule (due_at);

-- Named leases between checkers. 'leader': the checker that scans the master and publishes
-- snapshots.
CREATE TABLE leases (
    name TEXT PRIMARY KEY,
    holder TEXT NOT NULL,
    until_at BIGINT NOT NULL
);

-- Which checker ran a crawl.
ALTER TABLE crawl_runs ADD COLUMN checker TEXT NOT NULL DEFAULT '';
