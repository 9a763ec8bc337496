"""Nearest-neighbour search over unit vectors: the exact index every other is checked against,
and the ranked candidates a search yields."""

from __future__ import annotations

from concurrent.futures import ThreadPoolExecutor
from dataclasses import asdict, dataclass
from typing import Any, Protocol

import numpy as np
from numpy.typing import NDArray
from threadpoolctl import ThreadpoolController

TILE_SCORES = 1 << 21  # scores computed per block (8 MB): large enough for BLAS, small enough to stay cached
MIN_ROWS_PER_THREAD = 50_000  # below this, splitting the gallery across threads costs more than it saves
_blas = ThreadpoolController()


class GalleryVectors:
    """Faces of a gallery as one value: ids, subject ids and (N,D) vectors in one order.

    Not a list or a dataclass: Prefect walks those in task parameters looking for futures
    (about 30 s for a million ids); it does not walk this.
    """

    __slots__ = ("face_ids", "subject_ids", "vectors")

    def __init__(self, face_ids: list[str], subject_ids: list[str], vectors: NDArray[np.float32]) -> None:
        self.face_ids, self.subject_ids, self.vectors = face_ids, subject_ids, vectors

    def __len__(self) -> int:
        return len(self.face_ids)


class BuildPlan:
    """What a search through an index build needs besides the build: its rows (shard, row)
    removed since it was made, and the faces enrolled after it (searched exactly beside it).
    Not walked by Prefect, like ``GalleryVectors``."""

    __slots__ = ("removed", "delta")

    def __init__(self, removed: set[tuple[int, int]], delta: GalleryVectors) -> None:
        self.removed, self.delta = removed, delta


class VectorIndex(Protocol):
    """Top-k by inner product (cosine over unit vectors)."""

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """(Q,D) queries -> (Q,k') scores descending and row numbers, k' = min(k, size)."""
        ...


def ranked(scores: NDArray[np.float32], rows: NDArray[np.int64]) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Each row's entries by score descending, ties by row number ascending."""
    order = np.lexsort((rows, -scores), axis=1)
    return np.take_along_axis(scores, order, 1), np.take_along_axis(rows, order, 1)


def best_k(scores: NDArray[np.float32], rows: NDArray[np.int64], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Each row's k highest scores (unordered) and their row numbers."""
    if scores.shape[1] > k:
        keep = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        scores, rows = np.take_along_axis(scores, keep, 1), np.take_along_axis(rows, keep, 1)
    return scores, rows


def _merge(best: tuple[NDArray[np.float32], NDArray[np.int64]], probe_of: NDArray[np.int64],
           scores: NDArray[np.float32], rows: NDArray[np.int64], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """The current best k per probe merged with new (probe, score, row) hits."""
    best_scores, best_rows = best
    probes = len(best_scores)
    counts = np.bincount(probe_of, minlength=probes)
    width = best_scores.shape[1] + int(counts.max())
    merged_scores = np.full((probes, width), -np.inf, np.float32)
    merged_rows = np.full((probes, width), -1, np.int64)
    merged_scores[:, :best_scores.shape[1]], merged_rows[:, :best_rows.shape[1]] = best_scores, best_rows
    order = np.argsort(probe_of, kind="stable")
    probe_of, scores, rows = probe_of[order], scores[order], rows[order]
    column = np.arange(len(probe_of)) - (np.cumsum(counts) - counts)[probe_of] + best_scores.shape[1]
    merged_scores[probe_of, column], merged_rows[probe_of, column] = scores, rows
    return best_k(merged_scores, merged_rows, k)


def top_k(queries: NDArray[np.float32], vectors: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
    """Exact top-k rows of ``vectors`` by inner product for each query, unordered; 0 < k <= len(vectors).

    Scores a block of rows at a time with one matrix product and keeps only the scores
    that beat each query's current k-th best, so selection is one comparison per score
    instead of a partition of every row.
    """
    probes, size = len(queries), len(vectors)
    block = max(k, min(size, max(1024, TILE_SCORES // probes)))
    first = queries @ vectors[:block].T
    best = best_k(first, np.broadcast_to(np.arange(block, dtype=np.int64), first.shape), k)
    threshold = best[0].min(axis=1, keepdims=True)
    hits: list[tuple[NDArray, NDArray, NDArray]] = []
    pending = 0
    tile = np.empty((probes, block), np.float32)
    for start in range(block, size, block):
        chunk = vectors[start:start + block]
        scores = np.matmul(queries, chunk.T, out=tile[:, :len(chunk)])
        found = np.flatnonzero(scores > threshold)
        if found.size:
            probe_of, column = np.divmod(found, len(chunk))
            hits.append((probe_of, scores[probe_of, column], column + start))
            pending += found.size
        if pending > 4 * probes or (hits and start + block >= size):
            best = _merge(best, *(np.concatenate(parts) for parts in zip(*hits)), k)
            threshold = best[0].min(axis=1, keepdims=True)
            hits, pending = [], 0
    return best


class ExactIndex:
    """Exact inner-product top-k by blocked matrix products (``top_k``).

    With several threads the gallery is split into contiguous ranges searched at once,
    one BLAS thread each, and their top-k merged: selection runs in every thread, not
    only the product.
    """

    def __init__(self, vectors: NDArray[np.float32], threads: int = 1) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)
        self._threads = max(1, min(threads, len(self._vectors) // MIN_ROWS_PER_THREAD))

    def __len__(self) -> int:
        return len(self._vectors)

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, len(self._vectors))
        if not k:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        if self._threads == 1:
            return ranked(*top_k(queries, self._vectors, k))
        bounds = np.linspace(0, len(self._vectors), self._threads + 1).astype(int)

        def search_range(start: int, end: int):
            scores, rows = top_k(queries, self._vectors[start:end], min(k, end - start))
            return scores, rows + start

        with _blas.limit(limits=1, user_api="blas"), ThreadPoolExecutor(self._threads) as pool:
            parts = list(pool.map(search_range, bounds[:-1], bounds[1:]))
        scores, rows = (np.concatenate(side, axis=1) for side in zip(*parts))
        return ranked(*best_k(scores, rows, k))


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
