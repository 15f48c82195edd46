-- An admin's hold: a mirror (the registry's or the control plane's) kept out of the answers
-- with a reason, whatever its file or its operator says, until an admin lifts it. An
-- import leaves these columns alone.
ALTER TABLE mirrors ADD COLUMN held_reason TEXT;
ALTER TABLE mirrors ADD COLUMN held_by TEXT;
ALTER TABLE mirrors ADD COLUMN held_at BIGINT;
