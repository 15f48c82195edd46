-- Who is working on the store now (a crawl, an import), so that a writer kept waiting can
-- be told who holds it. A row is removed when its work ends; one left by a process that
-- died stops being shown, and is swept, once it has not been touched for an hour.
CREATE TABLE store_work (
    id TEXT PRIMARY KEY,
    what TEXT NOT NULL,
    pid BIGINT NOT NULL,
    host TEXT NOT NULL,
    started_at BIGINT NOT NULL,
    touched_at BIGINT NOT NULL
);

-- A crawl's results while it runs, written in short transactions and moved into
-- check_results in the one transaction that finishes the crawl: the crawl stays
-- all-or-nothing without holding the store's write lock for its whole run. `run` is the
-- crawl's store_work id. No foreign keys: a mirror removed meanwhile is dropped at the move.
CREATE TABLE crawl_staging (
    run TEXT NOT NULL,
    mirror_id BIGINT NOT NULL,
    directory_id BIGINT NOT NULL,
    protocol TEXT NOT NULL,
    family TEXT NOT NULL,
    outcome TEXT NOT NULL,
    sha256_seen TEXT,
    versions_behind BIGINT,
    lag_seconds BIGINT,
    http_status BIGINT,
    latency_ms BIGINT,
    bytes BIGINT NOT NULL,
    etag TEXT,
    last_modified TEXT,
    checked_at BIGINT NOT NULL,
    error TEXT,
    timestamp_seen BIGINT,
    good_sha256 TEXT,
    good_at BIGINT,
    PRIMARY KEY (run, mirror_id, directory_id, protocol, family)
);

-- How many of a crawl's results and health states differ from what was stored before it:
-- the daemon publishes a new snapshot only after a crawl that changed something.
ALTER TABLE crawl_runs ADD COLUMN changes BIGINT NOT NULL DEFAULT 0;

-- The snapshot reads the last 7 days of every mirror's state changes (its availability).
CREATE INDEX health_events_by_time ON health_events (at);
