-- Rows an auditors' snapshot leaves out, per table, as a condition on the table's rows: the
-- analyst's determination of a search that awaits its blind review (its row and its audit
-- row), so that no reviewer who also audits reads it before recording their own.
SELECT 'determinations' AS table_name,
       'search_id IN (SELECT search_id FROM determinations GROUP BY search_id '
       || 'HAVING bool_and(stage <> ''reviewer''))' AS withheld
UNION ALL
SELECT 'audit_log',
       'action = ''determination'' AND target IN (SELECT ''search:'' || search_id FROM determinations '
       || 'GROUP BY search_id HAVING bool_and(stage <> ''reviewer''))';
