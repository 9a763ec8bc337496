"""Every test here runs against the session's Prefect test API."""

import pytest


@pytest.fixture(scope="session", autouse=True)
def _prefect(prefect_api):
    yield
