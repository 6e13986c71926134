-- danescan schema, migration 5: the work queue that lets one scan run in many
-- worker processes on many machines (danescan scan --workers N, danescan
-- worker). The database is the only coordinator:
--   scan_inputs    the input names, stored once (COPYed in streaming by the
--                  process that starts the scan), partitioned by scan;
--   scan_chunks    fixed ranges of input ordinals [seq_lo, seq_hi), leased
--                  by one worker at a time (FOR UPDATE SKIP LOCKED) with an
--                  expiry the worker's heartbeat extends; done_count counts
--                  the chunk's domain rows committed (in the same
--                  transaction as the rows), so a chunk is done exactly when
--                  every one of its names is stored;
--   scan_workers   one row per worker process: heartbeat, counters;
--   host_claims    "this worker probes this MX host": each host is probed
--                  once per scan; other workers wait for it and reuse the
--                  stored result;
--   address_leases scan-wide per-address session slots (--per-ip) and the
--                  gap between sessions (--per-ip-gap-ms).
-- A worker that stops heartbeating (or whose process is known dead) loses
-- its leases and claims to the next worker that asks.

ALTER TABLE scans
  ADD COLUMN queue_chunk_size integer,          -- NULL: a single-process scan (no queue)
  ADD COLUMN queue_total      bigint,           -- names loaded into scan_inputs so far
  ADD COLUMN queue_loaded     boolean NOT NULL DEFAULT false; -- every input name is in scan_inputs

CREATE TABLE scan_inputs (
  scan_id         text NOT NULL,
  seq             bigint NOT NULL,
  name            text NOT NULL,
  invalid_reason  text,              -- NULL: a valid name
  file_index      integer NOT NULL,
  line            bigint NOT NULL,
  rank            bigint NOT NULL,   -- -1 when the input had none
  PRIMARY KEY (scan_id, seq)
) PARTITION BY LIST (scan_id);

CREATE TABLE scan_chunks (
  scan_id       text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  chunk_no      bigint NOT NULL,             -- = seq_lo / queue_chunk_size
  seq_lo        bigint NOT NULL,
  seq_hi        bigint NOT NULL,             -- exclusive
  state         text NOT NULL DEFAULT 'pending' CHECK (state IN ('pending', 'leased', 'done')),
  lease_owner   text,                        -- scan_workers.worker_id
  lease_expires timestamptz,
  leases        integer NOT NULL DEFAULT 0,  -- times leased (> 1: taken over or released)
  done_count    integer NOT NULL DEFAULT 0,  -- domain rows of this chunk committed
  done_at       timestamptz,
  PRIMARY KEY (scan_id, chunk_no)
);
-- The leasing query's scan: chunks not done, in order.
CREATE INDEX scan_chunks_open_idx ON scan_chunks (scan_id, chunk_no) WHERE state <> 'done';

CREATE TABLE scan_workers (
  scan_id       text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  worker_id     text NOT NULL,               -- host:pid:random, unique
  worker_no     bigserial,                   -- scan_batches numbers of this worker start at worker_no << 32
  host          text NOT NULL,
  pid           integer NOT NULL,
  started_at    timestamptz NOT NULL DEFAULT now(),
  heartbeat_at  timestamptz NOT NULL DEFAULT now(),
  exited_at     timestamptz,
  exit_status   text,                        -- 'done', 'stopped', 'failed: ...', 'killed' (seen dead by its supervisor)
  domains       bigint NOT NULL DEFAULT 0,   -- domains this worker has written (at its last heartbeat)
  chunks        bigint NOT NULL DEFAULT 0,   -- chunks leased
  probes        bigint NOT NULL DEFAULT 0,   -- addresses probed
  connections   bigint NOT NULL DEFAULT 0,   -- SMTP connections opened
  dns_queries   bigint NOT NULL DEFAULT 0,
  dns_retries   bigint NOT NULL DEFAULT 0,
  dns_timeouts  bigint NOT NULL DEFAULT 0,
  PRIMARY KEY (scan_id, worker_id)
);

CREATE TABLE host_claims (
  scan_id     text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  host        text NOT NULL,
  worker_id   text NOT NULL,                 -- the worker probing (or that probed) it
  claimed_at  timestamptz NOT NULL DEFAULT now(),
  done        boolean NOT NULL DEFAULT false,-- its mx_hosts/probes rows are committed
  probe_runs  integer NOT NULL DEFAULT 1,    -- > 1: probed again after its claimer died
  PRIMARY KEY (scan_id, host)
);

CREATE TABLE address_leases (
  scan_id     text NOT NULL REFERENCES scans (id) ON DELETE CASCADE,
  address     text NOT NULL,
  slot        integer NOT NULL,              -- 0 .. per_ip - 1
  worker_id   text,                          -- NULL: free
  expires     timestamptz,
  released_at timestamptz,
  sessions    bigint NOT NULL DEFAULT 0,     -- times acquired
  PRIMARY KEY (scan_id, address, slot)
);

-- Is this worker gone (exited, or no heartbeat for ttl_ms)?
CREATE FUNCTION danescan_worker_gone(scan text, worker text, ttl_ms integer) RETURNS boolean
LANGUAGE sql STABLE AS $$
  SELECT coalesce((SELECT w.exited_at IS NOT NULL OR w.heartbeat_at < now() - ttl_ms * interval '1 ms'
                     FROM scan_workers w WHERE w.scan_id = scan AND w.worker_id = worker), true)
$$;

-- Takes one of the address's `slots` session slots for `worker`: a free one
-- whose last session ended at least gap_ms ago, or one whose holder is gone
-- or expired. Returns the slot, or -1 when all are busy.
CREATE FUNCTION danescan_acquire_address(scan text, worker text, addr text, slots integer, gap_ms integer,
                                         ttl_ms integer) RETURNS integer LANGUAGE plpgsql AS $$
DECLARE
  s integer;
BEGIN
  FOR s IN 0 .. slots - 1 LOOP
    INSERT INTO address_leases AS l (scan_id, address, slot, worker_id, expires, sessions)
    VALUES (scan, addr, s, worker, now() + ttl_ms * interval '1 ms', 1)
    ON CONFLICT (scan_id, address, slot) DO UPDATE
      SET worker_id = worker, expires = now() + ttl_ms * interval '1 ms', released_at = NULL,
          sessions = l.sessions + 1
      WHERE (l.worker_id IS NULL AND (l.released_at IS NULL OR l.released_at <= now() - gap_ms * interval '1 ms'))
         OR (l.worker_id IS NOT NULL AND l.worker_id <> worker
             AND (l.expires < now() OR danescan_worker_gone(scan, l.worker_id, ttl_ms)));
    IF FOUND THEN
      RETURN s;
    END IF;
  END LOOP;
  RETURN -1;
END
$$;

-- The per-scan tables now include scan_inputs.
CREATE OR REPLACE FUNCTION danescan_scan_tables() RETURNS text[] LANGUAGE sql IMMUTABLE AS $$
  SELECT ARRAY['domains', 'domain_mx', 'mx_hosts', 'tlsa_records', 'addresses', 'probes', 'probe_chain',
               'scan_inputs']
$$;
