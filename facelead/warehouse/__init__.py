"""The DuckDB warehouse: migrations, named queries and the only code that imports duckdb."""
