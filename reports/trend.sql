-- Report table "trend": every scan of the same input (same set of input file
-- SHA-256 digests in scans.inputs; a scan without recorded inputs only matches
-- itself) up to and including this one, oldest first, at most the last 100.
-- Counts come from danescan_domain_counts() (migration 009: each scan's
-- summary, computed once).
-- psql variables: scan_id.
WITH input_key AS (
  SELECT s.id, s.started_at,
         (SELECT jsonb_agg(e->'sha256' ORDER BY e->>'sha256') FROM jsonb_array_elements(s.inputs) e) AS digests
    FROM scans s
), me AS (
  SELECT * FROM input_key WHERE id = :'scan_id'
), same AS (
  SELECT k.id, k.started_at
    FROM input_key k, me
   WHERE (k.id = me.id OR (me.digests IS NOT NULL AND k.digests = me.digests))
     AND k.started_at <= me.started_at
   ORDER BY k.started_at DESC
   LIMIT 100
)
SELECT same.id AS scan_id,
       to_char(same.started_at AT TIME ZONE 'UTC', 'YYYY-MM-DD"T"HH24:MI:SS"Z"') AS started,
       coalesce(sum(d.domains), 0) AS domains,
       coalesce(sum(d.domains) FILTER (WHERE d.with_mail), 0) AS with_mail,
       coalesce(sum(d.domains) FILTER (WHERE d.any_tlsa), 0) AS with_tlsa,
       coalesce(sum(d.domains) FILTER (WHERE d.status = 'dane-valid'), 0) AS dane_valid,
       round(100.0 * coalesce(sum(d.domains) FILTER (WHERE d.status = 'dane-valid'), 0)
             / nullif(sum(d.domains) FILTER (WHERE d.with_mail), 0), 1) AS pct_dane_valid_of_mail
  FROM same
  LEFT JOIN LATERAL danescan_domain_counts(same.id) d ON true
 GROUP BY same.id, same.started_at
 ORDER BY same.started_at, same.id;
