-- One-click unsubscribe (RFC 8058): each message to an operator carries a link whose token
-- is stored only as its SHA-256 (hex), naming the address and the mirror; following it
-- records the opt-out, which delivery honours (the operator subscribes again on the
-- mirror's page).
CREATE TABLE unsubscribe_links (
    hash TEXT PRIMARY KEY,
    address TEXT NOT NULL,
    mirror TEXT NOT NULL,
    created_at BIGINT NOT NULL
);
CREATE TABLE mail_optouts (
    address TEXT NOT NULL,
    mirror TEXT NOT NULL,
    at BIGINT NOT NULL,
    PRIMARY KEY (address, mirror)
);
