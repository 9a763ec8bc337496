"""The investigation's rules beyond who may do what (``policy``): pure functions of plain
values, each written once, for the flows, tasks and pages that ask them."""

from __future__ import annotations


def searched_exactly(gallery_size: int, exact_below: int) -> bool:
    """A gallery of fewer than ``exact_below`` faces is searched exactly, whatever its index
    builds, and no build is made for it."""
    return gallery_size < exact_below


def needs_override(passed: bool, override: str | None) -> bool:
    """Whether a probe face may not be searched yet: it is below the probe quality bar
    (``passed`` false) and no reason (text that is not blank) says why it must be anyway."""
    return not passed and not (override or "").strip()


def kept_override(passed: bool, override: str | None) -> str | None:
    """The override reason a search keeps: none for a face that met the bar."""
    return None if passed else override
