"""Rank gallery faces against a probe vector."""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import NDArray
from prefect import task
from prefect.cache_policies import NONE

from models.index import GalleryVectors, Ranked, top_exact
from warehouse.records import StoredCandidate


@task(cache_policy=NONE)
def search_exact(gallery: GalleryVectors, probe: NDArray[np.float32], k: int) -> list[Ranked]:
    """Exact top-k over ``gallery``: ``top_exact`` as a task run."""
    return top_exact(gallery, probe, k)


SCORE_TOLERANCE = 1e-4


def compare(stored: Sequence[StoredCandidate], rerun: list[Ranked]) -> list[str]:
    """Each way the re-run's list differs from the stored one, in words."""
    differences = []
    now = {r.face_id: r for r in rerun}
    for old in stored:
        new = next((r for r in rerun if r.rank == old.rank), None)
        if new is None or new.face_id != old.face_id:
            where = (f"now at rank {now[old.face_id].rank}" if old.face_id in now
                     else "no longer returned (removed from the gallery since, or its index build changed)")
            got = f"{new.face_id} ({new.score:.4f})" if new else "nothing"
            differences.append(f"rank {old.rank}: was {old.face_id} ({old.score:.4f}), now {got}; "
                               f"{old.face_id} {where}")
        elif abs(new.score - old.score) > SCORE_TOLERANCE:
            differences.append(f"rank {old.rank}: {old.face_id} scored {old.score:.4f}, now {new.score:.4f}")
    return differences
