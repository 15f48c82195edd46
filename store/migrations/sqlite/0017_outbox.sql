-- Messages to operators, written in the same transaction as the change they tell of (a
-- crawl's health changes): nothing is lost if a checker stops before sending. A checker
-- delivering one holds a lease on it (lease_holder, lease_until), so several checkers on one
-- store send each once and one killed mid-delivery leaves it to another when the lease ends.
-- A failed attempt is retried at due_at with backoff; after a day it is given up, with the
-- last error kept for the operator's page and the admins.
CREATE TABLE outbox (
    id INTEGER PRIMARY KEY,
    mirror TEXT NOT NULL,
    kind TEXT NOT NULL,
    channel TEXT NOT NULL,
    recipient TEXT NOT NULL,
    subject TEXT NOT NULL,
    body TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    due_at BIGINT NOT NULL,
    attempts BIGINT NOT NULL,
    lease_holder TEXT,
    lease_until BIGINT,
    delivered_at BIGINT,
    gave_up_at BIGINT,
    last_error TEXT
);
CREATE INDEX outbox_due ON outbox (delivered_at, gave_up_at, due_at);
CREATE INDEX outbox_by_mirror ON outbox (mirror, created_at);
