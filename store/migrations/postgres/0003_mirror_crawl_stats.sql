-- What the last crawl spent on each mirror, and how old its TIME file was.
CREATE TABLE mirror_crawl_stats (
    mirror_id BIGINT PRIMARY KEY REFERENCES mirrors (id) ON DELETE CASCADE,
    checked_at BIGINT NOT NULL,
    requests BIGINT NOT NULL,
    bytes BIGINT NOT NULL,
    not_modified BIGINT NOT NULL,
    sync_age BIGINT
);
