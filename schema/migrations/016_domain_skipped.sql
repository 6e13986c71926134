-- Migration 16 (issue 20): opt-out of a domain before resolution.
--   domain_status 'skipped'   the domain (or a parent domain) is named in the
--                             scan's --blocklist: it was never looked up and
--                             nothing was contacted for it (RESULTS.md order:
--                             right after invalid-name, before any status a
--                             lookup decides)
--   domains.skip_reason       why it was skipped ("blocklist"); NULL for every
--                             other status
-- The value is added at the end of the type (as status.c's table, which
-- test_store_pg compares): stored rows keep their values, and reports order
-- statuses by their own categories, not by the enum.
ALTER TYPE domain_status ADD VALUE IF NOT EXISTS 'skipped';

ALTER TABLE domains ADD COLUMN skip_reason text;
