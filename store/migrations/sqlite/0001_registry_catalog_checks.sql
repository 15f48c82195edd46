-- Registry, catalog, upstream repodata history, check results, health and snapshots.
-- Times are Unix seconds (UTC); flags are 0/1 integers (BOOLEAN in PostgreSQL). The
-- PostgreSQL schema in ../postgres mirrors this one.

CREATE TABLE sites (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL,
    url TEXT NOT NULL DEFAULT '',
    UNIQUE (name, url)
);

CREATE TABLE mirrors (
    id INTEGER PRIMARY KEY,
    name TEXT NOT NULL UNIQUE,
    site_id INTEGER NOT NULL REFERENCES sites (id),
    email TEXT,
    country TEXT,
    state_province TEXT,
    city TEXT,
    latitude DOUBLE PRECISION,
    longitude DOUBLE PRECISION,
    bandwidth_mbps BIGINT,
    private INTEGER NOT NULL,
    monopoly INTEGER NOT NULL,
    subnets_url TEXT,
    cloud_type TEXT,
    update_frequency TEXT,
    enabled INTEGER NOT NULL,
    approved INTEGER NOT NULL,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL
);

-- Base URLs; module '' is the main tree.
CREATE TABLE mirror_urls (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    module TEXT NOT NULL,
    protocol TEXT NOT NULL,
    url TEXT NOT NULL,
    PRIMARY KEY (mirror_id, module, protocol)
);

CREATE TABLE mirror_netblocks (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    cidr TEXT NOT NULL,
    PRIMARY KEY (mirror_id, position)
);

CREATE TABLE mirror_asns (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    asn BIGINT NOT NULL,
    PRIMARY KEY (mirror_id, position)
);

CREATE TABLE mirror_countries_allowed (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    country TEXT NOT NULL,
    PRIMARY KEY (mirror_id, position)
);

CREATE TABLE mirror_cloud_regions (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    position BIGINT NOT NULL,
    region TEXT NOT NULL,
    PRIMARY KEY (mirror_id, position)
);

-- The catalog spec (TOML) and its expanded directories. Directories are never deleted, so
-- history keeps its references; one dropped from the catalog is marked inactive.
CREATE TABLE catalog (
    id INTEGER PRIMARY KEY CHECK (id = 1),
    spec TEXT NOT NULL,
    updated_at BIGINT NOT NULL
);

CREATE TABLE directories (
    id INTEGER PRIMARY KEY,
    path TEXT NOT NULL UNIQUE,
    release TEXT NOT NULL,
    repo TEXT NOT NULL,
    arch TEXT NOT NULL,
    module TEXT,
    vault_only INTEGER NOT NULL,
    active INTEGER NOT NULL
);

-- Every version of a directory's repodata/repomd.xml the master has published.
CREATE TABLE repomd_versions (
    id INTEGER PRIMARY KEY,
    directory_id INTEGER NOT NULL REFERENCES directories (id),
    size BIGINT NOT NULL,
    timestamp BIGINT NOT NULL,
    md5 TEXT NOT NULL,
    sha1 TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    sha512 TEXT NOT NULL,
    first_seen BIGINT NOT NULL,
    UNIQUE (directory_id, sha256)
);
CREATE INDEX repomd_versions_by_directory ON repomd_versions (directory_id, first_seen);

-- The latest check of each mirror x directory x protocol x address family.
CREATE TABLE check_results (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    directory_id INTEGER NOT NULL REFERENCES directories (id),
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
    PRIMARY KEY (mirror_id, directory_id, protocol, family)
);

-- Current health per capability (http, https, ipv4, ipv6), with hysteresis counters.
CREATE TABLE mirror_health (
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    capability TEXT NOT NULL,
    state TEXT NOT NULL,
    since BIGINT NOT NULL,
    reason TEXT NOT NULL,
    consecutive_ok BIGINT NOT NULL,
    consecutive_failed BIGINT NOT NULL,
    PRIMARY KEY (mirror_id, capability)
);

CREATE TABLE health_events (
    id INTEGER PRIMARY KEY,
    mirror_id INTEGER NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    capability TEXT NOT NULL,
    old_state TEXT NOT NULL,
    new_state TEXT NOT NULL,
    reason TEXT NOT NULL,
    at BIGINT NOT NULL
);
CREATE INDEX health_events_by_mirror ON health_events (mirror_id, at);

CREATE TABLE snapshots (
    id INTEGER PRIMARY KEY,
    serial BIGINT NOT NULL UNIQUE,
    created_at BIGINT NOT NULL,
    path TEXT NOT NULL,
    sha256 TEXT NOT NULL,
    size BIGINT NOT NULL,
    mirrors BIGINT NOT NULL,
    directories BIGINT NOT NULL
);
