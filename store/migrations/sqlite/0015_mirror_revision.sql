-- Every write to a mirror's row counts here, so the leader sees a change made within the
-- same second as the last one (MAX(updated_at) alone did not: a mirror approved and then
-- disabled within one second stayed in the answers).
CREATE TABLE mirror_revision (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
INSERT INTO mirror_revision (id, n) VALUES (1, 0);
CREATE TRIGGER mirror_revision_insert AFTER INSERT ON mirrors
BEGIN UPDATE mirror_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER mirror_revision_update AFTER UPDATE ON mirrors
BEGIN UPDATE mirror_revision SET n = n + 1 WHERE id = 1; END;
CREATE TRIGGER mirror_revision_delete AFTER DELETE ON mirrors
BEGIN UPDATE mirror_revision SET n = n + 1 WHERE id = 1; END;
