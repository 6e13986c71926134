-- danescan schema, migration 22: after the oldest scan of an input set is
-- dropped, domain_dane_seen's and domain_failure_episodes' maintained rows
-- (migration 019) are updated instead of recomputed; and scans appended
-- several at a time count right in domain_dane_seen.
--
-- 1. The oldest scan dropped. Before, a drop of any scan but the newest
--    made both kinds stale, and the next danescan_summarize_scan (a scan's
--    completion, a report) ran the old views' queries over every scan kept:
--    14.4 s at 10M domains x 2 scans, growing with the scans kept (about
--    80 min a week for a rolling window of 52 weekly .com scans, at the rate
--    measured at 10M). A rolling window drops its oldest scan, so that case
--    is now incremental, at the next summarize (danescan_drop_scan is
--    unchanged and stays fast: nothing here reads the dropped scan's rows):
--      dane_seen  a row whose first dane-valid scan was the dropped one has
--                 one dane-valid scan less, and takes the earliest later
--                 scan in which the domain is dane-valid; a row whose first
--                 scan in the set (new column first_scan) was the dropped
--                 one has one scan less and takes the domain's next scan; a
--                 row left without a dane-valid scan goes. Each step is one
--                 join of the waiting rows with one scan (the (domain)
--                 index), at most as many steps as scans are kept, usually
--                 one.
--      episodes   an episode that began in the dropped scan begins at the
--                 domain's next scan, if the domain is failing there; if it
--                 is not (that is where the episode ended), or the domain
--                 never appears again, the episode goes: without the dropped
--                 scan it never began. No other episode can change: the
--                 dropped scan is before all of them.
--    Then the scans appended since, if any, are appended as before. Two or
--    more scans dropped between summaries, or any other scan, still make
--    the kind recomputed: first_scan says whether a domain was in the first
--    scan, not in the second.
-- 2. danescan_dane_seen_append (migration 019) counted, for a domain
--    dane-valid for the first time, its rows in every other scan of the set,
--    the scans appended after it in the same summarize too, which their own
--    append then counted again: `scans` came out too high when one
--    summarize appended two or more scans. It now counts the scans before
--    the appended one only.
--
-- Existing dane_seen rows lack first_scan: they are removed with their
-- state, and the next summarize recomputes them (once).
--
-- The same rows as the old view definitions after every step: asserted by
-- test_report_scale, which appends two scans in one summarize and drops the
-- oldest scan four times in a row.

ALTER TABLE domain_dane_seen_rows ADD COLUMN first_scan text; -- the domain's first scan in the set, any status
TRUNCATE domain_dane_seen_rows;
DELETE FROM domain_history_state WHERE kind = 'dane_seen';

-- dane_seen: one input set from scratch (migration 019's, with first_scan).
CREATE OR REPLACE FUNCTION danescan_dane_seen_full(iset text) RETURNS void LANGUAGE plpgsql AS $$
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
         (array_agg(d.status ORDER BY i.started_at DESC, d.scan_id DESC))[1],
         (array_agg(d.scan_id ORDER BY i.started_at, d.scan_id))[1]
    FROM valid_domains v
    JOIN domains d ON d.domain = v.domain
    JOIN sets i ON i.scan_id = d.scan_id AND i.input_set = v.input_set
   GROUP BY i.input_set, d.domain;
END
$$;

-- dane_seen: scan `nxt` (started `at0`) appended to the set's scans; the
-- set's scans after it (appended by the same summarize, next) are not
-- counted here.
CREATE OR REPLACE FUNCTION danescan_dane_seen_append(iset text, nxt text, at0 timestamptz) RETURNS void
LANGUAGE plpgsql AS $$
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
  -- the domains dane-valid for the first time: their rows in the scans
  -- before this one count
  EXECUTE format($q$
    INSERT INTO domain_dane_seen_rows
    SELECT %1$L, d.domain, 1 + coalesce(e.scans, 0), 1, d.scan_id, %3$L::timestamptz, d.scan_id,
           %3$L::timestamptz, d.status, coalesce(e.first_scan, d.scan_id)
      FROM domains d
      LEFT JOIN LATERAL (
        SELECT count(*) AS scans, (array_agg(h.scan_id ORDER BY i.started_at, h.scan_id))[1] AS first_scan
          FROM domains h
          JOIN scan_input_sets i ON i.scan_id = h.scan_id
         WHERE h.domain = d.domain AND i.input_set = %1$L
           AND (i.started_at, i.scan_id) < (%3$L::timestamptz, %2$L::text)) e ON true
     WHERE d.scan_id = %2$L AND d.status = 'dane-valid'
       AND NOT EXISTS (SELECT 1 FROM domain_dane_seen_rows r WHERE r.input_set = %1$L AND r.domain = d.domain)$q$,
    iset, nxt, at0);
END
$$;

-- dane_seen: the set's oldest scan `gone` was dropped; `rest` are the scans
-- the rows were computed from after it, in start order, started at
-- `rest_at`. Reads only rest's rows.
CREATE FUNCTION danescan_dane_seen_forget(iset text, gone text, rest text[], rest_at timestamptz[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  UPDATE domain_dane_seen_rows r
     SET dane_valid_scans = r.dane_valid_scans - CASE WHEN r.first_dane_valid_scan = gone THEN 1 ELSE 0 END,
         scans = r.scans - CASE WHEN r.first_scan = gone THEN 1 ELSE 0 END
   WHERE r.input_set = iset AND (r.first_dane_valid_scan = gone OR r.first_scan = gone);
  DELETE FROM domain_dane_seen_rows r WHERE r.input_set = iset AND r.dane_valid_scans <= 0;
  FOR i IN 1 .. coalesce(cardinality(rest), 0) LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM domain_dane_seen_rows r
                           WHERE r.input_set = iset AND (r.first_dane_valid_scan = gone OR r.first_scan = gone));
    EXECUTE format($q$
      UPDATE domain_dane_seen_rows r
         SET first_dane_valid_scan = CASE WHEN r.first_dane_valid_scan = %2$L AND d.status = 'dane-valid'
                                          THEN d.scan_id ELSE r.first_dane_valid_scan END,
             first_dane_valid_at = CASE WHEN r.first_dane_valid_scan = %2$L AND d.status = 'dane-valid'
                                        THEN %4$L::timestamptz ELSE r.first_dane_valid_at END,
             first_scan = CASE WHEN r.first_scan = %2$L THEN d.scan_id ELSE r.first_scan END
        FROM domains d
       WHERE r.input_set = %1$L AND (r.first_dane_valid_scan = %2$L OR r.first_scan = %2$L)
         AND d.scan_id = %3$L AND d.domain = r.domain$q$,
      iset, gone, rest[i], rest_at[i]);
  END LOOP;
  -- None can be left: a row kept has a dane-valid scan, so a scan, in rest.
  DELETE FROM domain_dane_seen_rows r
   WHERE r.input_set = iset AND (r.first_dane_valid_scan = gone OR r.first_scan = gone);
END
$$;

-- episodes: the same drop (see above). Reads only rest's rows.
CREATE FUNCTION danescan_episodes_forget(iset text, gone text, rest text[], rest_at timestamptz[])
RETURNS void LANGUAGE plpgsql AS $$
BEGIN
  FOR i IN 1 .. coalesce(cardinality(rest), 0) LOOP
    EXIT WHEN NOT EXISTS (SELECT 1 FROM domain_failure_episode_rows e
                           WHERE e.input_set = iset AND e.failed_scan_id = gone);
    -- The next appearance is not failing: the episode ended there.
    EXECUTE format($q$
      DELETE FROM domain_failure_episode_rows e
       USING domains d
       WHERE e.input_set = %1$L AND e.failed_scan_id = %2$L
         AND d.scan_id = %3$L AND d.domain = e.domain
         AND d.status NOT IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')$q$, iset, gone, rest[i]);
    -- Failing: the episode begins there.
    EXECUTE format($q$
      UPDATE domain_failure_episode_rows e
         SET failed_scan_id = d.scan_id, failed_at = %4$L::timestamptz, failed_status = d.status,
             duration = e.ended_at - %4$L::timestamptz,
             providers = danescan_episode_providers(d.scan_id, d.seq)
        FROM domains d
       WHERE e.input_set = %1$L AND e.failed_scan_id = %2$L
         AND d.scan_id = %3$L AND d.domain = e.domain
         AND d.status IN ('dane-failed', 'dane-unreachable', 'tlsa-unusable')$q$, iset, gone, rest[i], rest_at[i]);
  END LOOP;
  -- Never seen again: an open episode of the dropped scan alone.
  DELETE FROM domain_failure_episode_rows e WHERE e.input_set = iset AND e.failed_scan_id = gone;
END
$$;

-- dane_seen or episodes: bring every input set up to date (migration 019's,
-- with the oldest scan dropped as a third incremental case); true when it
-- computed anything.
CREATE OR REPLACE FUNCTION danescan_sets_refresh(kind text) RETURNS boolean LANGUAGE plpgsql AS $$
DECLARE
  cur record;
  st domain_history_state;
  m integer;
  appended boolean;
  oldest_dropped boolean;
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
    -- scans appended to unchanged ones
    appended := m IS NOT NULL AND m < cardinality(cur.parts) AND cur.parts[1:m] = st.parts;
    -- the oldest scan dropped, the others unchanged, maybe scans appended
    oldest_dropped := NOT appended AND m IS NOT NULL AND m >= 2 AND m - 1 <= cardinality(cur.parts)
                      AND cur.parts[1:m - 1] = st.parts[2:m];
    IF oldest_dropped THEN
      IF kind = 'dane_seen' THEN
        PERFORM danescan_dane_seen_forget(cur.input_set, st.scan_ids[1], cur.scan_ids[1:m - 1], cur.started[1:m - 1]);
      ELSE
        PERFORM danescan_episodes_forget(cur.input_set, st.scan_ids[1], cur.scan_ids[1:m - 1], cur.started[1:m - 1]);
      END IF;
      m := m - 1;
    END IF;
    IF appended OR oldest_dropped THEN
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
            (extract(epoch FROM clock_timestamp() - t0) * 1000)::integer, appended OR oldest_dropped)
    ON CONFLICT ON CONSTRAINT domain_history_state_pkey DO UPDATE
      SET scan_ids = excluded.scan_ids, parts = excluded.parts, computed_at = now(),
          compute_ms = excluded.compute_ms, incremental = excluded.incremental;
    did := true;
  END LOOP;
  RETURN did;
END
$$;

REVOKE EXECUTE ON FUNCTION danescan_dane_seen_forget(text, text, text[], timestamptz[]),
  danescan_episodes_forget(text, text, text[], timestamptz[]) FROM PUBLIC;
