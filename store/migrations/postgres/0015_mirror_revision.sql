-- Every write to a mirror's row counts here, so the leader sees a change made within the
-- same second as the last one (MAX(updated_at) alone did not: a mirror approved and then
-- disabled within one second stayed in the answers).
CREATE TABLE mirror_revision (id INTEGER PRIMARY KEY CHECK (id = 1), n BIGINT NOT NULL);
INSERT INTO mirror_revision (id, n) VALUES (1, 0);
CREATE FUNCTION mirror_revision_bump() RETURNS trigger LANGUAGE plpgsql AS $$
BEGIN
    UPDATE mirror_revision SET n = n + 1 WHERE id = 1;
    RETURN NULL;
END;
$$;
CREATE TRIGGER mirror_revision_bump AFTER INSERT OR UPDATE OR DELETE ON mirrors
FOR EACH STATEMENT EXECUTE FUNCTION mirror_revision_bump();
