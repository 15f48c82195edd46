-- Mirrors registered through the control plane, and who manages each mirror: `registry`
-- (the git registry's import, which --sync may remove) or `control` (registered and
-- approved through the control plane, which an import never removes).
ALTER TABLE mirrors ADD COLUMN managed_by TEXT NOT NULL DEFAULT 'registry';

-- A registration: the registry file its fields were written as (judged like any), its
-- contact, the ownership token the operator publishes under each base URL (a public value,
-- not a secret), the last proof's findings per protocol (JSON), and the admin's decision.
-- state: unconfirmed (contact not yet signed in), proving, waiting (proven, for an admin),
-- approved, refused.
CREATE TABLE registrations (
    name TEXT PRIMARY KEY,
    contact TEXT NOT NULL,
    yaml TEXT NOT NULL,
    token TEXT NOT NULL,
    state TEXT NOT NULL,
    proof_json TEXT,
    proven_at BIGINT,
    created_at BIGINT NOT NULL,
    updated_at BIGINT NOT NULL,
    decided_by TEXT,
    reason TEXT
);
CREATE INDEX registrations_by_contact ON registrations (contact);
CREATE INDEX registrations_by_state ON registrations (state);
