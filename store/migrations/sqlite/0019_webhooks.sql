-- A mirror's webhook: an https URL its operator chose and the secret deliveries are signed
-- with (HMAC-SHA256; shown to the operator once, kept here to sign with). last_status: the
-- HTTP status of the last attempt at a message (a webhook's answer, shown on the page).
CREATE TABLE webhooks (
    mirror TEXT PRIMARY KEY,
    url TEXT NOT NULL,
    secret TEXT NOT NULL,
    created_by TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
ALTER TABLE outbox ADD COLUMN last_status BIGINT;
