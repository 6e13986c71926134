-- danescan schema, migration 6: how many certificates the server sent in a
-- probe's handshake (probe_chain keeps the first 16; a hostile server may
-- send hundreds). NULL when TLS did not come up.
ALTER TABLE probes ADD COLUMN chain_sent integer;
