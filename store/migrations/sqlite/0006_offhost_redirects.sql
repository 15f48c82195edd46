-- The other hosts a mirror's redirects led to in its last crawl (followed or refused), one
-- per line, for the operator's view.
ALTER TABLE mirror_crawl_stats ADD COLUMN redirects_to TEXT;
