-- danescan schema, migration 8: a probe's attempts (issue 15). A first
-- session that ends in a transient failure (timeout, connect-failed, or
-- smtp-failed because the server closed or reset the connection before TLS)
-- gets one more session after a pause; the row holds the last session's
-- result, and these columns say what the first one saw.
--   attempts        sessions of the (unrestricted) probe: 0 not probed
--                   (skipped), 1, or 2 after a transient first failure (the
--                   per-key-type session is not counted); NULL in rows
--                   stored before this migration
--   step            the step the last session reached (on failure the step
--                   that failed): connect, greeting, ehlo, starttls,
--                   handshake, quit, done; none when not probed
--   first_result    the first session's result when attempts = 2, else NULL
--   first_step      its failed step, first_reason its reason, first_ms its
--                   duration, retry_pause_ms from its end to the second
--                   session's start (retry delay plus politeness waits)
ALTER TABLE probes
  ADD COLUMN attempts smallint,
  ADD COLUMN step text,
  ADD COLUMN first_result probe_result,
  ADD COLUMN first_step text,
  ADD COLUMN first_reason text,
  ADD COLUMN first_ms integer,
  ADD COLUMN retry_pause_ms integer;
