"""Every test lives under tests/unit, tests/integration or tests/reliability and is marked
by its folder. The fixtures of the integration and reliability tests are in fixtures.py."""

from pathlib import Path

import pytest

from fixtures import *  # noqa: F401,F403  (session fixtures; the Prefect API starts only where used)

_MARKS = {"unit": pytest.mark.unit, "integration": pytest.mark.integration, "reliability": pytest.mark.reliability}


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if folder not in _MARKS:
            raise pytest.UsageError(f"{item.nodeid}: tests belong in tests/unit, tests/integration or tests/reliability")
        item.add_marker(_MARKS[folder])
