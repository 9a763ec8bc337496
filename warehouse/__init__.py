"""The DuckDB warehouse: migrations, named queries and the only code that imports duckdb."""

import facelead  # noqa: F401  (first: it sets Prefect's and Great Expectations' defaults before they load)
