-- What serving decisions need beyond the latest check: the last copy that was servable (kept
-- while a failed check is weighed by the health rule), the repomd timestamp a check saw (a copy
-- between two known versions is behind, not unknown), emergency expiry of alternates, mirrors
-- served unchecked to their own networks, where a mirror's address places it, and subnets
-- fetched from a mirror's URL with their change log.

ALTER TABLE check_results ADD COLUMN timestamp_seen BIGINT;
ALTER TABLE check_results ADD COLUMN good_sha256 TEXT;
ALTER TABLE check_results ADD COLUMN good_at BIGINT;

-- Versions superseded at or before this time are no longer alternates.
ALTER TABLE directories ADD COLUMN alternates_expired_at BIGINT;

ALTER TABLE mirrors ADD COLUMN checked INTEGER NOT NULL DEFAULT 1;
-- The registry file the mirror came from, so an export writes it back under the same name.
ALTER TABLE mirrors ADD COLUMN source_file TEXT;

CREATE TABLE mirror_located (
    mirror_id INTEGER PRIMARY KEY REFERENCES mirrors (id) ON DELETE CASCADE,
    address TEXT NOT NULL,
    country TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    located_at BIGINT NOT NULL
);

CREATE TABLE mirror_fetched_subnets (
    mirror_id INTEGER PRIMARY KEY REFERENCES mirrors (id) ON DELETE CASCADE,
    -- The last good list, one CIDR per line.
    cidrs TEXT NOT NULL,
    fetched_at BIGINT,
    attempted_at BIGINT NOT NULL,
    last_error TEXT
);

CREATE TABLE subnet_changes (
    id INTEGER PRIMARY KEY,
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    at BIGINT NOT NULL,
    added TEXT NOT NULL,
    removed TEXT NOT NULL
);
