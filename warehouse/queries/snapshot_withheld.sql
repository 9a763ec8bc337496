-- Rows an auditors' snapshot leaves out, per table, as a condition on the table's rows: of a
-- search that awaits its blind review, the analyst's determination (its row and its audit
-- row) and every view of its sheet and candidates (which candidate was compared last), so
-- that no reviewer who also audits reads them before recording their own. Such a search
-- shows in the snapshot's review_outcomes as awaiting determination until it is reviewed.
SELECT 'determinations' AS table_name,
       'search_id IN (SELECT search_id FROM determinations GROUP BY search_id '
       || 'HAVING bool_and(stage <> ''reviewer''))' AS withheld
UNION ALL
SELECT 'audit_log',
       'action IN (''determination'', ''sheet.view'') AND target IN (SELECT ''search:'' || search_id '
       || 'FROM determinations GROUP BY search_id HAVING bool_and(stage <> ''reviewer''))';
