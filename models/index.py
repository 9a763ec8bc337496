"""Nearest-neighbour search over unit vectors: the exact index every other is checked against."""

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
    """Exact inner-product top-k with ScaNN's float32 brute-force scorer.

    Scores every vector, like a matrix product, but selects the top k while scoring:
    numpy's matmul + argpartition spends more on the selection than on the product.
    """

    def __init__(self, vectors: NDArray[np.float32], threads: int = 1) -> None:
        import scann

        self._size = len(vectors)
        self._searcher = None
        if self._size:
            data = np.ascontiguousarray(vectors, dtype=np.float32)
            self._searcher = scann.scann_ops_pybind.builder(data, 10, "dot_product").score_brute_force().build()
            self._searcher.set_num_threads(threads)

    def __len__(self) -> int:
        return self._size

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        queries = np.ascontiguousarray(np.atleast_2d(queries), dtype=np.float32)
        k = min(k, self._size)
        if not k:
            return np.zeros((len(queries), 0), np.float32), np.zeros((len(queries), 0), np.int64)
        rows, scores = self._searcher.search_batched_parallel(queries, k, batch_size=max(1, len(queries)))
        return np.asarray(scores, np.float32), np.asarray(rows, np.int64)
