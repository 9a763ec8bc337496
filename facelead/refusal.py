"""The one shape of a refusal: a short stable reason code and a sentence saying why."""

from __future__ import annotations


class Refusal(Exception):
    """Something facelead will not do; ``reason`` is a short stable code, ``detail`` says why;
    ``audited`` once its audit row is written (so no door writes a second)."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(detail)
        self.reason, self.detail = reason, detail
        self.audited = False


def refuse(refusal: Refusal | None) -> None:
    """Raise a rule's refusal, if it gave one (inside ``workflow.audited``, it is audited)."""
    if refusal is not None:
        raise refusal
