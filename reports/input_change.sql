-- Report table "input_change": whether this scan and the previous one
-- scanned the same names. Every comparison with the previous scan (the
-- headline's previous column and change, status changes, adoption and
-- abandonment) means least when names were added or removed: the row then
-- starts with "warning". Same input files: the scans' sets of input file
-- SHA-256 digests are equal (as reports/trend.sql compares them).
-- Names are the domains rows of each scan (input names, invalid ones too).
-- psql variables: scan_id, previous_id ('' gives no rows).
-- Counts from danescan_pair_counts (migration 018: the pair summary, or the
-- same counts from the raw rows).
WITH counts AS (
  SELECT current_names, previous_names, names_in_both
    FROM danescan_pair_counts(:'scan_id', nullif(:'previous_id', ''))
), digests AS (
  SELECT (SELECT input_set FROM scan_input_sets WHERE scan_id = :'scan_id')
           = (SELECT input_set FROM scan_input_sets WHERE scan_id = nullif(:'previous_id', '')) AS same_files
)
SELECT CASE WHEN c.current_names = c.names_in_both AND c.previous_names = c.names_in_both
            THEN 'same names in both scans'
            ELSE 'warning: the input set changed; comparisons cover the names in both scans only' END AS input_set,
       CASE WHEN g.same_files THEN 'yes' ELSE 'no' END AS same_input_files,
       c.names_in_both,
       c.current_names - c.names_in_both AS names_added,
       c.previous_names - c.names_in_both AS names_removed
  FROM counts c, digests g
 WHERE nullif(:'previous_id', '') IS NOT NULL;
