-- The views auditors query (search_history, review_outcomes, ...), to recreate in a snapshot.
SELECT sql FROM duckdb_views() WHERE NOT internal AND schema_name = 'main' ORDER BY view_name;
