"""Nearest-neighbour search over unit vectors; exact search fills the interface today."""

from __future__ import annotations

from typing import Protocol

import numpy as np
from numpy.typing import NDArray


class VectorIndex(Protocol):
    """Top-k by inner product (cosine over unit vectors)."""

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """(Q,D) queries -> (Q,k') scores descending and row numbers, k' = min(k, size)."""
        ...


class ExactIndex:
    """Brute-force inner product with BLAS; the reference every other index is checked against."""

    def __init__(self, vectors: NDArray[np.float32]) -> None:
        self._vectors = np.ascontiguousarray(vectors, dtype=np.float32)

    def __len__(self) -> int:
        return len(self._vectors)

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        scores = np.atleast_2d(queries).astype(np.float32) @ self._vectors.T
        k = min(k, scores.shape[1])
        top = np.argpartition(-scores, k - 1, axis=1)[:, :k]
        top_scores = np.take_along_axis(scores, top, axis=1)
        order = np.argsort(-top_scores, axis=1, kind="stable")
        return np.take_along_axis(top_scores, order, axis=1), np.take_along_axis(top, order, axis=1).astype(np.int64)
