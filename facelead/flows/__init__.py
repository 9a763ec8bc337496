"""Prefect flows: wiring only (inputs -> mapped tasks -> persist)."""
