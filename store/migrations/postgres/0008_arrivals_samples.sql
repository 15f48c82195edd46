-- When each mirror was first seen serving each version of a directory's repomd.xml: how
-- long versions take to reach the mirrors (propagation), and each mirror's mean lag.
-- observed: 1 when the checker saw it arrive (the mirror held another of the master's
-- versions at its previous check), 0 when it was already there when the checker looked
-- (the first check, or the first after failed ones): first_served_at is then only an upper
-- bound, and the time the checker started watching that copy.
CREATE TABLE version_arrivals (
    version_id BIGINT NOT NULL REFERENCES repomd_versions (id),
    mirror_id BIGINT NOT NULL REFERENCES mirrors (id) ON DELETE CASCADE,
    first_served_at BIGINT NOT NULL,
    observed BIGINT NOT NULL,
    PRIMARY KEY (version_id, mirror_id)
);
CREATE INDEX version_arrivals_by_mirror ON version_arrivals (mirror_id);

-- A few packages of each version the master published (the newest by file time, so those
-- the version added), from its primary.xml: the crawl looks for them on each mirror's new
-- copy of that version.
CREATE TABLE package_samples (
    version_id BIGINT NOT NULL REFERENCES repomd_versions (id),
    position BIGINT NOT NULL,
    href TEXT NOT NULL,
    size BIGINT NOT NULL,
    PRIMARY KEY (version_id, position)
);

-- An operator's recheck asks for every directory of the mirror to be looked at (the daemon
-- otherwise looks only at those its polite schedule says are due): 1 until that check.
ALTER TABLE crawl_schedule ADD COLUMN full_check BIGINT NOT NULL DEFAULT 0;
