"""Rank gallery faces against a probe vector."""

from __future__ import annotations

from dataclasses import asdict, dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray
from prefect import task
from prefect.cache_policies import NONE

from models.index import ExactIndex, GalleryVectors, VectorIndex


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
