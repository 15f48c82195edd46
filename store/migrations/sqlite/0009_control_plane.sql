-- The operators' control plane: who may sign in, how, and what they did. Secrets (sign-in
-- links, session ids) are stored only as SHA-256 hashes (hex); addresses are lower-cased.

-- Admins added with `mirror-checker admin add` (those named in the config are not stored).
CREATE TABLE admins (
    address TEXT PRIMARY KEY,
    added_at BIGINT NOT NULL,
    added_by TEXT NOT NULL
);

-- Sign-in links mailed: single use (used_at), expiring.
CREATE TABLE signin_links (
    token_hash TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    used_at BIGINT
);
CREATE INDEX signin_links_by_address ON signin_links (address, created_at);

-- Every sign-in request, known address or not, for the rate limits (per address, per client
-- network); the address is hashed so that the table lists no one who is not an operator.
CREATE TABLE signin_requests (
    at BIGINT NOT NULL,
    address_hash TEXT NOT NULL,
    network TEXT NOT NULL
);
CREATE INDEX signin_requests_by_address ON signin_requests (address_hash, at);
CREATE INDEX signin_requests_by_network ON signin_requests (network, at);

-- Signed-in sessions: an idle expiry (last_seen) and an absolute one (expires_at).
CREATE TABLE sessions (
    id_hash TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_seen BIGINT NOT NULL,
    expires_at BIGINT NOT NULL
);
CREATE INDEX sessions_by_address ON sessions (address);

-- Every change, and every sign-in and sign-out: who, through what (page, api, cli,
-- import), what, on what, before and after (JSON, when there is one).
CREATE TABLE audit_log (
    id INTEGER PRIMARY KEY,
    at BIGINT NOT NULL,
    actor TEXT NOT NULL,
    via TEXT NOT NULL,
    action TEXT NOT NULL,
    subject TEXT NOT NULL,
    before_json TEXT,
    after_json TEXT
);
CREATE INDEX audit_log_by_subject ON audit_log (subject, at);
