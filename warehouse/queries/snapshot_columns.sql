-- Per base table, the columns an auditors' snapshot keeps: none that hold pixels, vectors,
-- boxes or the hashes of secrets (BLOB and array columns), and no table of the service's
-- own bookkeeping (migrations, spent grants, failed sign-ins, audit rows not yet sealed).
SELECT c.table_name, list(c.column_name ORDER BY c.ordinal_position) AS columns
FROM information_schema.columns c
JOIN information_schema.tables t USING (table_schema, table_name)
WHERE t.table_type = 'BASE TABLE' AND c.table_schema = 'main'
  AND c.data_type <> 'BLOB' AND c.data_type NOT LIKE '%[%'
  AND c.table_name NOT IN ('schema_migrations', 'grants_spent', 'sign_in_failures', 'audit_pending')
GROUP BY c.table_name ORDER BY c.table_name;
