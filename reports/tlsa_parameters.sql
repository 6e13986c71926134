-- Report table "tlsa_parameters": TLSA usage/selector/matching-type triples
-- published by MX hosts with a secure TLSA answer (RFC 6698 registries).
-- Counts from danescan_tlsa_parameters() (migration 018: the scan's summary,
-- or the tlsa_parameters view's counts from the raw rows).
-- psql variables: scan_id.
SELECT t.usage || ' ' || t.selector || ' ' || t.matching_type AS parameters,
       concat_ws(' ',
         CASE t.usage WHEN 0 THEN 'PKIX-TA' WHEN 1 THEN 'PKIX-EE' WHEN 2 THEN 'DANE-TA'
                      WHEN 3 THEN 'DANE-EE' ELSE 'usage ' || t.usage END,
         CASE t.selector WHEN 0 THEN 'Cert' WHEN 1 THEN 'SPKI' ELSE 'selector ' || t.selector END,
         CASE t.matching_type WHEN 0 THEN 'Full' WHEN 1 THEN 'SHA2-256' WHEN 2 THEN 'SHA2-512'
                              ELSE 'matching ' || t.matching_type END) AS meaning,
       t.records,
       t.usable_records,
       t.hosts
  FROM danescan_tlsa_parameters(:'scan_id') t
 ORDER BY t.hosts DESC, t.usage, t.selector, t.matching_type;
