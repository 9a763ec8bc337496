"""Prefect tasks: thin wrappers over pure functions, plus the data they pass around."""
