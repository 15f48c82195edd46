-- API tokens for a mirror's automation: made on its page, shown once, stored only as the
-- SHA-256 of the secret (hex); revoked ones are kept (with when) for the audit's sake.
CREATE TABLE api_tokens (
    hash TEXT PRIMARY KEY,
    mirror TEXT NOT NULL,
    name TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX api_tokens_by_mirror ON api_tokens (mirror, created_at);
