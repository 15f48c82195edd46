-- One row per crawl (or daemon batch): what it did, and whether its results were applied.
CREATE TABLE crawl_runs (
    id INTEGER PRIMARY KEY,
    started_at BIGINT NOT NULL,
    finished_at BIGINT NOT NULL,
    mirrors BIGINT NOT NULL,
    checks BIGINT NOT NULL,
    errors BIGINT NOT NULL,
    not_modified BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    -- 1 when most checks failed at once and the results were set aside (the checker's own
    -- network is the likely culprit), 0 when they were applied.
    ignored INTEGER NOT NULL,
    note TEXT NOT NULL
);
