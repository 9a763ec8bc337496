"""Every test lives under tests/unit or tests/integration and is marked by its folder."""

from pathlib import Path

import pytest

_MARKS = {"unit": pytest.mark.unit, "integration": pytest.mark.integration}


def pytest_collection_modifyitems(config, items):
    for item in items:
        folder = Path(str(item.fspath)).relative_to(Path(__file__).parent).parts[0]
        if folder not in _MARKS:
            raise pytest.UsageError(f"{item.nodeid}: tests belong in tests/unit or tests/integration")
        item.add_marker(_MARKS[folder])
