-- danescan schema, migration 4: the status index holds only the domains a
-- DANE question is about. Most domains of a TLD are 'insecure' (unsigned):
-- indexing them made the index nearly as large as the table's primary key,
-- for a value no query looks up by index (a per-scan count reads the
-- partition anyway). The rare statuses (dane-failed, dane-partial, ...) stay
-- one index probe away: `WHERE scan_id = $1 AND status = 'dane-failed'`
-- implies the predicate, so the planner uses this index.
DROP INDEX IF EXISTS domains_status_idx;
CREATE INDEX domains_status_idx ON domains (status) WHERE status <> 'insecure';
