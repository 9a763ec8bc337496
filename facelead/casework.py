"""The investigation's rules beyond who may do what (``policy``): pure functions of plain
values, each written once, for the flows, tasks and pages that ask them."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass


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


@dataclass(frozen=True)
class FaceChoice:
    """The probe face a request will search (None: not settled) and what stops it, if anything."""

    index: int | None
    error: str | None = None

    @property
    def settled(self) -> bool:
        return self.index is not None and self.error is None


def face_choice(failures: Sequence[str], asked: int | None, override: str | None) -> FaceChoice:
    """The face to file a request for, given each detected face's quality failures ('' when
    it meets the probe bar), the face ``asked`` for (from 0) and the override reason: a lone
    face is chosen for the analyst; several need a choice; a face below the bar needs a reason."""
    if asked is None and len(failures) != 1:
        return FaceChoice(None)
    asked = 0 if asked is None else asked
    if not 0 <= asked < len(failures):
        return FaceChoice(None, f"face {asked + 1} asked for, the probe shows {len(failures)}: choose one of them")
    if needs_override(not failures[asked], override):
        return FaceChoice(asked, f"face {asked + 1} is below the probe quality bar ({failures[asked]}); give the "
                                 "reason to search it anyway, or choose a better frame")
    return FaceChoice(asked)
