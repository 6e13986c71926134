-- danescan schema, migration 19: the three researcher views that still read
-- every scan's raw rows (issue 17): domain_latest, domain_dane_seen and
-- domain_failure_episodes, each from a maintained table while it is fresh.
--
-- What is maintained (danescan_summarize_history(), called by
-- danescan_summarize_scan: at a scan's completion and by every report):
--   domain_latest_carry        the domain_latest rows of the domains that
--                              the newest scan (by start time, then id) does
--                              not have; domain_latest is then the newest
--                              scan's domains plus these rows
--   domain_dane_seen_rows      domain_dane_seen's rows with dane_valid_scans
--                              > 0, per input set
--   domain_failure_episode_rows domain_failure_episodes' rows, per input set
--   domain_history_state       per kind ('latest', 'dane_seen', 'episodes')
--                              and input set ('' for latest: every scan) the
--                              scans the rows were computed from: their ids
--                              and parts (id, start time and
--                              danescan_scan_source_key, in start order)
-- Freshness: a kind and set is fresh while its scans' parts are exactly the
-- current ones (a scan added, dropped, resumed, still being written, or
-- started at another time changes them). The views read the maintained rows
-- of the fresh sets and compute the others from the raw rows (the old
-- definitions: same columns, same rows), so they are right in every state,
-- and fast once the history was brought up to date.
--
-- Bringing it up to date is incremental in the usual cases: a scan appended
-- (started after every scan it is compared with) costs one pass over that
-- scan's rows (latest: the previous newest scan's rows without a row in the
-- new one move to the carry rows, carry rows the new scan has go);
-- rows added to the newest scan (a resumed or running scan) remove the carry
-- rows it now has; a dropped scan other than the newest (latest) replaces
-- its carry rows by the domains' next-latest rows. Anything else (a scan
-- started before one already kept, a dropped newest scan, a changed older
-- scan; for dane_seen and episodes anything but appended scans) recomputes
-- the kind and set: latest by appending every scan in start order to an
-- empty history (one pass over each consecutive pair of scans), dane_seen
-- and episodes with the old views' queries for the set.
-- danescan_drop_scan is unchanged: a dropped scan only makes the state
-- stale.
--
-- Assumes one row per name per scan (the scanner's input filter drops
-- duplicate names); with two rows of one name in a scan the old
-- domain_latest picked either.
--
-- Nothing is computed here: the first danescan_summarize_scan (a report, a
-- scan's completion) computes the history; until then the views read the
-- raw rows as before.

CREATE TABLE domain_history_state (
  kind          text NOT NULL,      -- 'latest', 'dane_seen', 'episodes'
  input_set     text NOT NULL,      -- scan_input_sets.input_set; '' for latest
  scan_ids      text[] NOT NULL,    -- the scans computed from, in start order
  parts         text[] NOT NULL,    -- danescan_history_part of each
  computed_at   timestamptz NOT NULL DEFAULT now(),
  compute_ms    integer NOT NULL,
  incremental   boolean NOT NULL,   -- the last update was incremental
  PRIMARY KEY (kind, input_set)
);

CREATE TABLE domain_latest_carry AS SELECT * FROM domain_latest WITH NO DATA;
CREATE INDEX domain_latest_carry_domain_idx ON domain_latest_carry (domain);
CREATE INDEX domain_latest_carry_scan_idx ON domain_latest_carry (scan_id);

CREATE TABLE domain_dane_seen_rows AS SELECT * FROM domain_dane_seen WITH NO DATA;
CREATE INDEX domain_dane_seen_rows_idx ON domain_dane_seen_rows (input_set, domain);

CREATE TABLE domain_failure_episode_rows AS SELECT * FROM domain_failure_episodes WITH NO DATA;
CREATE INDEX domain_failure_episode_rows_idx ON domain_failure_episode_rows (input_set, domain);

-- A scan's part of a history key: what the rows depend on.
CREATE FUNCTION danescan_history_part(scan text, started timestamptz) RETURNS text LANGUAGE sql STABLE AS $$
  SELECT scan || '@' || extract(epoch FROM started)::text || '=' || coalesce(danescan_scan_source_key(scan), '')
$$;

-- The current scans of each input set ('' with kind latest: all scans),
-- in start order, with their parts.
CREATE FUNCTION danescan_history_current(kind text)
RETURNS TABLE (input_set text, scan_ids text[], parts text[], started timestamptz[])
LANGUAGE sql STABLE AS $$
  SELECT '', array_agg(s.id ORDER BY s.started_at, s.id),
         array_agg(danescan_history_part(s.id, s.started_at) ORDER BY s.started_at, s.id),
         array_agg(s.started_at ORDER BY s.started_at, s.id)
    FROM scans s
   WHERE kind = 'latest'
  HAVING count(*) > 0
  UNION ALL
  SELECT i.input_set, array_agg(i.scan_id ORDER BY i.started_at, i.scan_id),
         array_agg(danescan_history_part(i.scan_id, i.started_at) ORDER BY i.started_at, i.scan_id),
         array_agg(i.started_at ORDER BY i.started_at, i.scan_id)
    FROM scan_input_sets i
   WHERE kind <> 'latest'
   GROUP BY i.input_set
$$;

-- The input sets whose maintained rows of a kind are fresh.
CREATE FUNCTION danescan_history_fresh_sets(kind text) RETURNS SETOF text LANGUAGE sql STABLE AS $$
  SELECT st.input_set
    FROM domain_history_state st
    JOIN danescan_history_current(danescan_history_fresh_sets.kind) c ON c.input_set = st.input_set AND c.parts = st.parts
   WHERE st.kind = danescan_history_fresh_sets.kind
$$;

-- domain_latest's newest scan when the carry rows are fresh, else NULL.
CREATE FUNCTION danescan_domain_latest_top() RETURNS text LANGUAGE sql STABLE AS $$
  SELECT st.scan_ids[cardinality(st.scan_ids)]
    FROM domain_history_state st
   WHERE st.kind = 'latest' AND st.input_set = '' AND cardinality(st.scan_ids) > 0
     AND st.parts = (SELECT c.parts FROM danescan_history_current('latest') c)
$$;

-- latest: scan `nxt` appended after `prev` (the newest scan so far).
CREATE FUNCTION danescan_latest_append(prev text, nxt text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    DELETE FROM domain_latest_carry c
     WHERE EXISTS (SELECT 1 FROM domains n WHERE n.scan_id = %L AND n.domain = c.domain)$q$, nxt);
  EXECUTE format($q$
    INSERT INTO domain_latest_carry
    SELECT d.domain, d.status, d.scan_id, s.started_at, d.tld, d.mx_dnssec, d.mx_count, d.implicit_mx,
           d.invalid_reason, d.seq
      FROM domains d
      JOIN scans s ON s.id = d.scan_id
     WHERE d.scan_id = %1$L
       AND NOT EXISTS (SELECT 1 FROM domains n WHERE n.scan_id = %2$L AND n.domain = d.domain)$q$, prev, nxt);
END
$$;

-- latest: from scratch, as the scans appended one by one in start order
-- (each step one pass over two scans' rows; a single DISTINCT ON over every
-- scan's rows, the old view's query, sorts them all).
CREATE FUNCTION danescan_latest_full(ids text[]) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM domain_latest_carry;
  FOR i IN 2 .. coalesce(cardinality(ids), 0) LOOP
    PERFORM danescan_latest_append(ids[i - 1], ids[i]);
  END LOOP;
END
$$;

-- latest: bring the carry rows up to date; true when it computed anything.
CREATE FUNCTION danescan_latest_refresh() RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  st domain_history_state;
  cur record;
  old_top text;
  k integer;
  n integer;
  removed text[];
  have boolean;
  incremental boolean := false;
  t0 timestamptz := clock_timestamp();
BEGIN
  SELECT * INTO cur FROM danescan_history_current('latest');
  IF cur.scan_ids IS NULL THEN
    cur.scan_ids := '{}'; cur.parts := '{}';
  END IF;
  SELECT * INTO st FROM domain_history_state WHERE kind = 'latest' AND input_set = '';
  have := FOUND;
  IF have AND st.parts = cur.parts THEN
    RETURN false;
  END IF;
  n := cardinality(cur.scan_ids);
  IF have AND cardinality(st.scan_ids) > 0 THEN
    old_top := st.scan_ids[cardinality(st.scan_ids)];
    k := array_position(cur.scan_ids, old_top);
    -- the scans before the old newest one: the old ones, less the dropped
    -- ones, unchanged and in the same order
    IF k IS NOT NULL AND cur.parts[1:k - 1] = coalesce(
         (SELECT array_agg(p ORDER BY o) FROM unnest(st.parts[1:cardinality(st.parts) - 1], st.scan_ids[1:cardinality(st.scan_ids) - 1])
                  WITH ORDINALITY AS x(p, id, o) WHERE id = ANY (cur.scan_ids)), '{}') THEN
      incremental := true;
      removed := ARRAY(SELECT id FROM unnest(st.scan_ids) id WHERE NOT id = ANY (cur.scan_ids));
      IF cardinality(removed) > 0 THEN
        -- the dropped scans' carry rows: the domains' next-latest rows
        EXECUTE format($q$
          WITH gone AS (DELETE FROM domain_latest_carry c WHERE c.scan_id = ANY (%L::text[]) RETURNING c.domain)
          INSERT INTO domain_latest_carry
          SELECT DISTINCT ON (d.domain)
                 d.domain, d.status, d.scan_id, s.started_at, d.tld, d.mx_dnssec, d.mx_count, d.implicit_mx,
                 d.invalid_reason, d.seq
            FROM (SELECT DISTINCT domain FROM gone) g
            JOIN domains d ON d.domain = g.domain
            JOIN scans s ON s.id = d.scan_id
           WHERE d.scan_id <> %L
           ORDER BY d.domain, s.started_at DESC, d.scan_id DESC$q$, removed, old_top);
      END IF;
      IF cur.parts[k] <> st.parts[cardinality(st.parts)] THEN
        -- rows added to the newest scan (resumed, still running)
        EXECUTE format($q$
          DELETE FROM domain_latest_carry c
           WHERE EXISTS (SELECT 1 FROM domains n WHERE n.scan_id = %L AND n.domain = c.domain)$q$, old_top);
      END IF;
      FOR i IN k + 1 .. n LOOP
        PERFORM danescan_latest_append(cur.scan_ids[i - 1], cur.scan_ids[i]);
      END LOOP;
    END IF;
  END IF;
  IF NOT incremental THEN
    PERFORM danescan_latest_full(cur.scan_ids);
  END IF;
  INSERT INTO domain_history_state (kind, input_set, scan_ids, parts, compute_ms, incremental)
  VALUES ('latest', '', cur.scan_ids, cur.parts, (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer,
          incremental)
  ON CONFLICT ON CONSTRAINT domain_history_state_pkey DO UPDATE
    SET scan_ids = excluded.scan_ids, parts = excluded.parts, computed_at = now(),
        compute_ms = excluded.compute_ms, incremental = excluded.incremental;
  RETURN true;
END
$$;

-- dane_seen: one input set from scratch (the valid part of migration 012's
-- view for the set).
CREATE FUNCTION danescan_dane_seen_full(iset text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM domain_dane_seen_rows WHERE input_set = iset;
  INSERT INTO domain_dane_seen_rows
  WITH sets AS MATERIALIZED (
    SELECT i.scan_id, i.started_at, i.input_set FROM scan_input_sets i WHERE i.input_set = iset
  ), valid_domains AS (
    SELECT DISTINCT i.input_set, d.domain
      FROM domains d
      JOIN sets i ON i.scan_id = d.scan_id
     WHERE d.status = 'dane-valid'
  )
  SELECT i.input_set, d.domain,
         count(*) AS scans,
         count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_scans,
         (array_agg(d.scan_id ORDER BY i.started_at, d.scan_id) FILTER (WHERE d.status = 'dane-valid'))[1],
         min(i.started_at) FILTER (WHERE d.status = 'dane-valid'),
         (array_agg(d.scan_id ORDER BY i.started_at DESC, d.scan_id DESC) FILTER (WHERE d.status = 'dane-valid'))[1],
         max(i.started_at) FILTER (WHERE d.status = 'dane-valid'),
         (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1]
    FROM valid_domains v
    JOIN domains d ON d.domain = v.domain
    JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = v.input_set
   GROUP BY i.input_set, d.domain;
END
$$;

-- dane_seen: scan `next` (started `at`) appended to the set's scans.
CREATE FUNCTION danescan_dane_seen_append(iset text, nxt text, at0 timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  -- the domains already dane-valid in the set: the new scan's row
  EXECUTE format($q$
    UPDATE domain_dane_seen_rows r
       SET scans = r.scans + 1,
           dane_valid_scans = r.dane_valid_scans + CASE WHEN d.status = 'dane-valid' THEN 1 ELSE 0 END,
           last_dane_valid_scan = CASE WHEN d.status = 'dane-valid' THEN d.scan_id ELSE r.last_dane_valid_scan END,
           last_dane_valid_at = CASE WHEN d.status = 'dane-valid' THEN %3$L::timestamptz ELSE r.last_dane_valid_at END,
           latest_status = d.status
      FROM domains d
     WHERE d.scan_id = %2$L AND d.domain = r.domain AND r.input_set = %1$L$q$, iset, nxt, at0);
  -- the domains dane-valid for the first time: their earlier rows count
  EXECUTE format($q$
    INSERT INTO domain_dane_seen_rows
    SELECT %1$L, d.domain,
           1 + (SELECT count(*) FROM domains h
                 WHERE h.domain = d.domain AND h.scan_id <> %2$L
                   AND h.scan_id IN (SELECT i.scan_id FROM scan_input_sets i WHERE i.input_set = %1$L)),
           1, d.scan_id, %3$L::timestamptz, d.scan_id, %3$L::timestamptz, d.status
      FROM domains d
     WHERE d.scan_id = %2$L AND d.status = 'dane-valid'
       AND NOT EXISTS (SELECT 1 FROM domain_dane_seen_rows r WHERE r.input_set = %1$L AND r.domain = d.domain)$q$,
    iset, nxt, at0);
END
$$;

-- episodes: one input set from scratch (migration 012's view for the set).
CREATE FUNCTION danescan_episodes_full(iset text) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  DELETE FROM domain_failure_episode_rows WHERE input_set = iset;
  INSERT INTO domain_failure_episode_rows
  WITH sets AS MATERIALIZED (
    SELECT i.scan_id, i.started_at, i.input_set FROM scan_input_sets i WHERE i.input_set = iset
  ), failing_domains AS (
    SELECT DISTINCT i.input_set, d.domain
      FROM domains d
      JOIN sets i ON i.scan_id = d.scan_id
     WHERE d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
  ), history AS (
    SELECT i.input_set, d.domain, d.scan_id, d.seq, i.started_at, d.status,
           d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable') AS failing
      FROM failing_domains f
      JOIN domains d ON d.domain = f.domain
      JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = f.input_set
  ), marked AS (
    SELECT h.*,
           lag(h.failing) OVER w AS was_failing,
           (array_agg(h.scan_id) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_scan_id,
           (array_agg(h.started_at) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_started_at,
           (array_agg(h.status) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_status
      FROM history h
    WINDOW w AS (PARTITION BY h.input_set, h.domain ORDER BY h.started_at, h.scan_id),
           after AS (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
  ), episodes AS (
    SELECT m.input_set, m.domain, m.scan_id AS failed_scan_id, m.seq AS failed_seq, m.started_at AS failed_at,
           m.status AS failed_status, m.end_scan_id, m.end_started_at, m.end_status
      FROM marked m
     WHERE m.failing AND m.was_failing IS NOT TRUE
  )
  SELECT ep.input_set, ep.domain, ep.failed_scan_id, ep.failed_at, ep.failed_status,
         ep.end_scan_id, ep.end_started_at, ep.end_status,
         CASE WHEN ep.end_scan_id IS NULL THEN 'open'
              WHEN ep.end_status IN ('dane-valid', 'dane-partial') THEN 'fixed'
              ELSE 'left' END,
         ep.end_started_at - ep.failed_at,
         danescan_episode_providers(ep.failed_scan_id, ep.failed_seq)
    FROM episodes ep;
END
$$;

-- The providers of a failing domain's failing MX hosts (the view's column).
CREATE FUNCTION danescan_episode_providers(scan text, seq bigint) RETURNS text[] LANGUAGE sql STABLE AS $$
  SELECT array_agg(DISTINCT danescan_host_provider(h.host, h.provider) ORDER BY danescan_host_provider(h.host, h.provider))
    FROM domain_mx m
    JOIN mx_hosts h ON h.scan_id = m.scan_id AND h.host = m.host
   WHERE m.scan_id = scan AND m.seq = danescan_episode_providers.seq
     AND h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable', 'tlsa-failed')
     AND danescan_host_provider(h.host, h.provider) IS NOT NULL
$$;

-- episodes: scan `next` (started `at`) appended to the set's scans. An
-- open episode of a domain the new scan has and finds not failing ends
-- there; a domain failing in the new scan without an open episode (its row
-- before was not failing, or it had none) starts one.
CREATE FUNCTION danescan_episodes_append(iset text, nxt text, at0 timestamptz) RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  EXECUTE format($q$
    UPDATE domain_failure_episode_rows e
       SET end_scan_id = d.scan_id, ended_at = %3$L::timestamptz, end_status = d.status,
           end_kind = CASE WHEN d.status IN ('dane-valid', 'dane-partial') THEN 'fixed' ELSE 'left' END,
           duration = %3$L::timestamptz - e.failed_at
      FROM domains d
     WHERE d.scan_id = %2$L AND d.domain = e.domain AND e.input_set = %1$L AND e.end_scan_id IS NULL
       AND d.status NOT IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')$q$, iset, nxt, at0);
  EXECUTE format($q$
    INSERT INTO domain_failure_episode_rows
    SELECT %1$L, d.domain, d.scan_id, %3$L::timestamptz, d.status, NULL, NULL, NULL, 'open', NULL,
           danescan_episode_providers(d.scan_id, d.seq)
      FROM domains d
     WHERE d.scan_id = %2$L AND d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')
       AND NOT EXISTS (SELECT 1 FROM domain_failure_episode_rows e
                        WHERE e.input_set = %1$L AND e.domain = d.domain AND e.end_scan_id IS NULL)$q$,
    iset, nxt, at0);
END
$$;

-- dane_seen or episodes: bring every input set up to date; true when it
-- computed anything.
CREATE FUNCTION danescan_sets_refresh(kind text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  cur record;
  st domain_history_state;
  m integer;
  incremental boolean;
  did boolean := false;
  t0 timestamptz;
BEGIN
  -- sets whose scans are all gone
  FOR st IN SELECT * FROM domain_history_state s
             WHERE s.kind = danescan_sets_refresh.kind
               AND NOT EXISTS (SELECT 1 FROM scan_input_sets i WHERE i.input_set = s.input_set) LOOP
    IF kind = 'dane_seen' THEN
      DELETE FROM domain_dane_seen_rows WHERE input_set = st.input_set;
    ELSE
      DELETE FROM domain_failure_episode_rows WHERE input_set = st.input_set;
    END IF;
    DELETE FROM domain_history_state s WHERE s.kind = st.kind AND s.input_set = st.input_set;
    did := true;
  END LOOP;
  FOR cur IN SELECT * FROM danescan_history_current(kind) LOOP
    t0 := clock_timestamp();
    SELECT * INTO st FROM domain_history_state s WHERE s.kind = danescan_sets_refresh.kind AND s.input_set = cur.input_set;
    IF FOUND AND st.parts = cur.parts THEN
      CONTINUE;
    END IF;
    m := NULL;
    IF FOUND THEN
      m := cardinality(st.parts);
    END IF;
    -- incremental only when scans were appended to unchanged ones
    incremental := m IS NOT NULL AND m < cardinality(cur.parts) AND cur.parts[1:m] = st.parts;
    IF incremental THEN
      FOR i IN m + 1 .. cardinality(cur.parts) LOOP
        IF kind = 'dane_seen' THEN
          PERFORM danescan_dane_seen_append(cur.input_set, cur.scan_ids[i], cur.started[i]);
        ELSE
          PERFORM danescan_episodes_append(cur.input_set, cur.scan_ids[i], cur.started[i]);
        END IF;
      END LOOP;
    ELSIF kind = 'dane_seen' THEN
      PERFORM danescan_dane_seen_full(cur.input_set);
    ELSE
      PERFORM danescan_episodes_full(cur.input_set);
    END IF;
    INSERT INTO domain_history_state (kind, input_set, scan_ids, parts, compute_ms, incremental)
    VALUES (kind, cur.input_set, cur.scan_ids, cur.parts,
            (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer, incremental)
    ON CONFLICT ON CONSTRAINT domain_history_state_pkey DO UPDATE
      SET scan_ids = excluded.scan_ids, parts = excluded.parts, computed_at = now(),
          compute_ms = excluded.compute_ms, incremental = excluded.incremental;
    did := true;
  END LOOP;
  RETURN did;
END
$$;

-- Brings all three up to date (a no-op when fresh: the scans rows and
-- their scan_batches counts are read). Called by danescan_summarize_scan.
-- (enable_nestloop on: the summariser turns it off, and the per-episode
-- provider lookups and the short histories want index nested loops.)
CREATE FUNCTION danescan_summarize_history() RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = on AS $$
DECLARE
  a boolean;
  b boolean;
  c boolean;
BEGIN
  PERFORM pg_advisory_xact_lock(hashtext('danescan_summarize_history'));
  a := danescan_latest_refresh();
  b := danescan_sets_refresh('dane_seen');
  c := danescan_sets_refresh('episodes');
  RETURN a OR b OR c;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_history() FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_history() TO danescan_reader;
REVOKE EXECUTE ON FUNCTION danescan_latest_full(text[]), danescan_latest_append(text, text), danescan_latest_refresh(),
  danescan_dane_seen_full(text), danescan_dane_seen_append(text, text, timestamptz), danescan_episodes_full(text),
  danescan_episodes_append(text, text, timestamptz), danescan_sets_refresh(text) FROM PUBLIC;

-- The views: same columns and rows as migrations 002 and 012.
-- domain_latest: when fresh, the newest scan's rows (its partition only:
-- the scan id is an initplan, pruned at run time) and the carry rows;
-- otherwise migration 002's query. A condition on domain reaches every
-- branch (the (domain) indexes).
CREATE OR REPLACE VIEW domain_latest AS
SELECT d.domain, d.status, d.scan_id, s.started_at AS scan_started_at, d.tld, d.mx_dnssec,
       d.mx_count, d.implicit_mx, d.invalid_reason, d.seq
  FROM domains d
  JOIN scans s ON s.id = d.scan_id
 WHERE d.scan_id = (SELECT danescan_domain_latest_top())
UNION ALL
SELECT c.domain, c.status, c.scan_id, c.scan_started_at, c.tld, c.mx_dnssec, c.mx_count, c.implicit_mx,
       c.invalid_reason, c.seq
  FROM domain_latest_carry c
 WHERE (SELECT danescan_domain_latest_top()) IS NOT NULL
UNION ALL
SELECT o.*
  FROM (SELECT DISTINCT ON (d.domain)
               d.domain, d.status, d.scan_id, s.started_at AS scan_started_at, d.tld, d.mx_dnssec,
               d.mx_count, d.implicit_mx, d.invalid_reason, d.seq
          FROM domains d
          JOIN scans s ON s.id = d.scan_id
         ORDER BY d.domain, s.started_at DESC, d.scan_id DESC) o
 WHERE (SELECT danescan_domain_latest_top()) IS NULL;

-- domain_dane_seen: the maintained rows of the fresh input sets; the valid
-- part of migration 012 for the others (their scans only: the loops over
-- an empty list cost nothing when every set is fresh); the never-valid
-- part as before (its dane_valid_scans is the constant 0).
CREATE OR REPLACE VIEW domain_dane_seen AS
WITH fresh AS MATERIALIZED (
  SELECT f AS input_set FROM danescan_history_fresh_sets('dane_seen') f
), stale_sets AS MATERIALIZED (
  SELECT scan_id, started_at, input_set FROM scan_input_sets
   WHERE input_set NOT IN (SELECT input_set FROM fresh)
), valid_domains AS (
  SELECT DISTINCT i.input_set, v.domain
    FROM stale_sets i
   CROSS JOIN LATERAL (SELECT d.domain FROM domains d WHERE d.scan_id = i.scan_id AND d.status = 'dane-valid') v
)
SELECT r.input_set, r.domain, r.scans, r.dane_valid_scans, r.first_dane_valid_scan, r.first_dane_valid_at,
       r.last_dane_valid_scan, r.last_dane_valid_at, r.latest_status
  FROM domain_dane_seen_rows r
 WHERE r.input_set IN (SELECT input_set FROM fresh)
UNION ALL
SELECT v.input_set, v.domain, h.*
  FROM valid_domains v
 CROSS JOIN LATERAL (
   SELECT count(*) AS scans,
          count(*) FILTER (WHERE d.status = 'dane-valid') AS dane_valid_scans,
          (array_agg(d.scan_id ORDER BY i.started_at, d.scan_id) FILTER (WHERE d.status = 'dane-valid'))[1]
            AS first_dane_valid_scan,
          min(i.started_at) FILTER (WHERE d.status = 'dane-valid') AS first_dane_valid_at,
          (array_agg(d.scan_id ORDER BY i.started_at DESC, d.scan_id DESC) FILTER (WHERE d.status = 'dane-valid'))[1]
            AS last_dane_valid_scan,
          max(i.started_at) FILTER (WHERE d.status = 'dane-valid') AS last_dane_valid_at,
          (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1] AS latest_status
     FROM domains d
     JOIN stale_sets i ON i.scan_id = d.scan_id AND i.input_set = v.input_set
    WHERE d.domain = v.domain) h
UNION ALL
SELECT input_set, domain, scans, 0::bigint, NULL::text, NULL::timestamptz, NULL::text, NULL::timestamptz, latest_status
  FROM (SELECT i.input_set, d.domain, count(*) AS scans,
               count(*) FILTER (WHERE d.status = 'dane-valid') AS valid,
               (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1] AS latest_status
          FROM domains d
          JOIN scan_input_sets i ON i.scan_id = d.scan_id
         GROUP BY i.input_set, d.domain) never
 WHERE valid = 0;

-- domain_failure_episodes: the maintained rows of the fresh input sets,
-- migration 012's query for the others.
CREATE OR REPLACE VIEW domain_failure_episodes AS
WITH fresh AS MATERIALIZED (
  SELECT f AS input_set FROM danescan_history_fresh_sets('episodes') f
), stale_sets AS MATERIALIZED (
  SELECT scan_id, started_at, input_set FROM scan_input_sets
   WHERE input_set NOT IN (SELECT input_set FROM fresh)
), failing_domains AS (
  SELECT DISTINCT i.input_set, v.domain
    FROM stale_sets i
   CROSS JOIN LATERAL (SELECT d.domain FROM domains d
                        WHERE d.scan_id = i.scan_id
                          AND d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')) v
), history AS (
  SELECT f.input_set, h.domain, h.scan_id, h.seq, h.started_at, h.status,
         h.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable') AS failing
    FROM failing_domains f
   CROSS JOIN LATERAL (SELECT d.domain, d.scan_id, d.seq, i.started_at, d.status
                         FROM domains d
                         JOIN stale_sets i ON i.scan_id = d.scan_id AND i.input_set = f.input_set
                        WHERE d.domain = f.domain) h
), marked AS (
  SELECT h.*,
         lag(h.failing) OVER w AS was_failing,
         (array_agg(h.scan_id) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_scan_id,
         (array_agg(h.started_at) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_started_at,
         (array_agg(h.status) FILTER (WHERE NOT h.failing) OVER after)[1] AS end_status
    FROM history h
  WINDOW w AS (PARTITION BY h.input_set, h.domain ORDER BY h.started_at, h.scan_id),
         after AS (w ROWS BETWEEN 1 FOLLOWING AND UNBOUNDED FOLLOWING)
), episodes AS (
  SELECT m.input_set, m.domain, m.scan_id AS failed_scan_id, m.seq AS failed_seq, m.started_at AS failed_at,
         m.status AS failed_status, m.end_scan_id, m.end_started_at, m.end_status
    FROM marked m
   WHERE m.failing AND m.was_failing IS NOT TRUE
)
SELECT r.input_set, r.domain, r.failed_scan_id, r.failed_at, r.failed_status, r.end_scan_id, r.ended_at,
       r.end_status, r.end_kind, r.duration, r.providers
  FROM domain_failure_episode_rows r
 WHERE r.input_set IN (SELECT input_set FROM fresh)
UNION ALL
SELECT ep.input_set, ep.domain, ep.failed_scan_id, ep.failed_at, ep.failed_status,
       ep.end_scan_id, ep.end_started_at AS ended_at, ep.end_status,
       CASE WHEN ep.end_scan_id IS NULL THEN 'open'
            WHEN ep.end_status IN ('dane-valid', 'dane-partial') THEN 'fixed'
            ELSE 'left' END AS end_kind,
       ep.end_started_at - ep.failed_at AS duration,
       danescan_episode_providers(ep.failed_scan_id, ep.failed_seq) AS providers
  FROM episodes ep;

-- Migration 018's summariser, bringing the history up to date too (both
-- when the scan's summaries were fresh and when it computed them).
CREATE OR REPLACE FUNCTION danescan_summarize_scan(scan text, force boolean DEFAULT false) RETURNS boolean
LANGUAGE plpgsql SECURITY DEFINER SET search_path = public SET work_mem = '256MB' SET jit = off
  SET max_parallel_workers_per_gather = 0 SET enable_nestloop = off AS $$
DECLARE
  key text;
  before text;
  part text := danescan_partition_name('scan_mx_providers', scan);
  t0 timestamptz := clock_timestamp();
BEGIN
  -- One summariser per scan at a time (two reports starting together).
  PERFORM pg_advisory_xact_lock(hashtext('danescan_summarize_scan'), hashtext(scan));
  key := danescan_scan_source_key(scan);
  IF key IS NULL THEN
    RETURN false; -- no such scan
  END IF;
  IF NOT force AND EXISTS (SELECT 1 FROM scan_summaries m WHERE m.scan_id = scan AND m.source_key = key) THEN
    -- time_to_fix also goes stale when a scan of the series changes
    PERFORM danescan_summarize_history();
    RETURN danescan_summarize_time_to_fix(scan);
  END IF;
  DELETE FROM scan_time_to_fix WHERE scan_id = scan;
  DELETE FROM scan_domain_counts WHERE scan_id = scan;
  DELETE FROM scan_provider_counts WHERE scan_id = scan;
  DELETE FROM scan_probe_failures WHERE scan_id = scan;
  DELETE FROM scan_published_metrics WHERE scan_id = scan;
  DELETE FROM scan_providers_broken WHERE scan_id = scan;
  DELETE FROM scan_tlsa_parameters WHERE scan_id = scan;
  DELETE FROM scan_failures_by_cause WHERE scan_id = scan;
  DELETE FROM scan_summaries WHERE scan_id = scan;
  -- (Scans started before migration 18 get their partition here.)
  PERFORM danescan_create_partition('scan_mx_providers', part, scan);
  EXECUTE format('DELETE FROM %I', part);
  EXECUTE 'INSERT INTO scan_domain_counts (tld, status, mx_dnssec, with_mail, any_secure_host, any_tlsa, domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_domain_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_provider_counts (provider, domains, domains_with_tlsa, dane_valid_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_provider_counts_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_probe_failures (result, applies, addresses, hosts, domains, example_domains, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_probe_failures_sql(scan) || ') q';
  EXECUTE format('INSERT INTO %I (provider, hosts, domains, dane_valid_hosts, dane_failed_hosts, '
                 'hosts_with_tlsa, domains_with_tlsa, scan_id) SELECT q.*, %L FROM (%s) q',
                 part, scan, danescan_mx_providers_sql(scan));
  EXECUTE 'INSERT INTO scan_published_metrics (position, numerator, denominator, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_published_metrics_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_providers_broken (provider, broken_domains, failing_hosts, domains_with_tlsa, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_providers_broken_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_tlsa_parameters (usage, selector, matching_type, records, usable_records, hosts, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_tlsa_parameters_sql(scan) || ') q';
  EXECUTE 'INSERT INTO scan_failures_by_cause (level, status, cause, count, scan_id) '
          || 'SELECT q.*, ' || quote_literal(scan) || ' FROM (' || danescan_failures_by_cause_sql(scan) || ') q';
  PERFORM danescan_summarize_time_to_fix(scan);
  INSERT INTO scan_summaries (scan_id, source_key, compute_ms)
  VALUES (scan, key, (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer);
  -- The pair with the scan before it in its series (what `report
  -- --previous` and `diff` of consecutive scans read).
  SELECT s.scan_id INTO before FROM danescan_scan_series(scan) s WHERE s.scan_id <> scan
   ORDER BY s.position DESC LIMIT 1;
  IF before IS NOT NULL THEN
    PERFORM danescan_summarize_pair(scan, before);
  END IF;
  PERFORM danescan_summarize_history();
  RETURN true;
END
$$;
REVOKE EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) FROM PUBLIC;
GRANT EXECUTE ON FUNCTION danescan_summarize_scan(text, boolean) TO danescan_reader;

GRANT SELECT ON domain_history_state, domain_latest_carry, domain_dane_seen_rows, domain_failure_episode_rows,
  domain_latest, domain_dane_seen, domain_failure_episodes TO danescan_reader;
