-- A served mirror's ownership token is looked for again at each sweep: since when it has
-- been missing, and when that was flagged to its operator and the admins (after the grace).
ALTER TABLE registrations ADD COLUMN proof_missing_since BIGINT;
ALTER TABLE registrations ADD COLUMN ownership_flagged_at BIGINT;
