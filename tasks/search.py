"""Rank gallery faces against a probe vector."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from prefect import task
from prefect.cache_policies import NONE

from models.index import ExactIndex, GalleryVectors, VectorIndex
from warehouse.records import StoredCandidate


@dataclass(frozen=True)
class Ranked:
    """One candidate: 1-based rank, cosine score, which face and whose. Never a "match"."""

    rank: int
    score: float
    face_id: str
    subject_id: str


@dataclass(frozen=True)
class RankMethod:
    """How a search ranked its gallery: exactly, or through index build ``index_build_id``
    ("scann"; "exact" over the build's rows when its index missed its targets)."""

    method: str  # "exact" or "scann"
    rank_ms: float
    delta_size: int = 0  # faces enrolled after the build, searched exactly beside it
    index_build_id: str | None = None
    params: list[dict] | None = None  # the build's ScaNN parameters, one per shard

    def audit_details(self) -> dict[str, Any]:
        """Its fields for the search's audit row; a search that used no build names none."""
        return {name: value for name, value in asdict(self).items() if value is not None}


def rank_candidates(index: VectorIndex, probe: NDArray[np.float32], face_ids: list[str], subject_ids: list[str],
                    k: int) -> list[Ranked]:
    """The k best gallery faces for one probe vector, best first."""
    scores, rows = index.search(probe[None, :], k)
    return [Ranked(rank + 1, float(score), face_ids[row], subject_ids[row])
            for rank, (score, row) in enumerate(zip(scores[0], rows[0]))]


def top_exact(gallery: GalleryVectors, probe: NDArray[np.float32], k: int) -> list[Ranked]:
    """Exact top-k over ``gallery`` (empty: no candidates)."""
    if not len(gallery):
        return []
    return rank_candidates(ExactIndex(gallery.vectors), probe, gallery.face_ids, gallery.subject_ids, k)


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
