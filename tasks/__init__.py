"""Prefect tasks: thin wrappers over pure functions, plus the data they pass around."""

import facelead  # noqa: F401  (first: it sets Prefect's and Great Expectations' defaults before they load)
