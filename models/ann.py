"""ScaNN indexes over unit vectors: build, save to a folder, load once per process, search.

An index is dot product over L2-normalised vectors: a k-means tree over the gallery,
anisotropic hashing to score the leaves searched, then exact re-scoring of the best
candidates (float32, or int8 to save memory).
"""

from __future__ import annotations

import functools
import math
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


@dataclass(frozen=True)
class ScannParams:
    """How a ScaNN index is built and searched; stored with every build and search."""

    leaves: int
    leaves_to_search: int
    dims_per_block: int = 2
    anisotropic_threshold: float = 0.2
    reorder: int = 250
    rescore: str = "float32"  # or "int8"
    training_sample: int = 100_000

    @classmethod
    def for_size(cls, vectors: int, rescore: str = "float32") -> ScannParams:
        """Starting points: about sqrt(N) leaves, 0.5% of them searched (a build then tunes
        this up to its target recall), 250 candidates re-scored."""
        leaves = max(2, min(vectors // 50, round(math.sqrt(vectors))))
        return cls(leaves=leaves, leaves_to_search=max(1, math.ceil(leaves * 0.005)), rescore=rescore)

    def as_dict(self) -> dict:
        return asdict(self)


def build_scann(vectors: NDArray[np.float32], params: ScannParams, k: int, threads: int = 1):
    """A ScaNN searcher over ``vectors`` (rows are positions 0..N-1)."""
    import scann
    from scann.scann_ops.py.scann_builder import ReorderType

    rescore = {"float32": ReorderType.FLOAT32, "int8": ReorderType.INT8}[params.rescore]
    builder = (
        scann.scann_ops_pybind.builder(np.ascontiguousarray(vectors, np.float32), k, "dot_product")
        .tree(num_leaves=params.leaves, num_leaves_to_search=params.leaves_to_search,
              training_sample_size=min(params.training_sample, len(vectors)))
        .score_ah(params.dims_per_block, anisotropic_quantization_threshold=params.anisotropic_threshold)
        .reorder(params.reorder, quantize=rescore)
    )
    builder.set_n_training_threads(threads)
    return builder.build()


def recall_at(found: NDArray[np.int64], truth: NDArray[np.int64]) -> float:
    """Mean fraction of each row of ``truth`` that ``found`` contains."""
    return float(np.mean([len(set(f.tolist()) & set(t.tolist())) / len(t) for f, t in zip(found, truth)]))


def tune_leaves(searcher, vectors: NDArray[np.float32], params: ScannParams, k: int, target: float,
                probes: int = 200, seed: int = 0) -> tuple[ScannParams, float]:
    """The fewest leaves to search that reach recall@k >= target, probing with gallery vectors.

    Returns the tuned parameters and the recall they reached; a recall below ``target``
    (every leaf searched) means this gallery should be searched exactly.
    """
    from facelead.models.index import ExactIndex

    sample = vectors[np.random.default_rng(seed).choice(len(vectors), min(probes, len(vectors)), replace=False)]
    k = min(k, len(vectors))
    truth = ExactIndex(vectors).search(sample, k)[1]
    leaves, reached = params.leaves_to_search, 0.0
    while True:
        rows = np.asarray(searcher.search_batched(sample, k, None, leaves)[0])
        reached = recall_at(rows, truth)
        if reached >= target or leaves >= params.leaves:
            return replace(params, leaves_to_search=leaves), reached
        leaves = min(params.leaves, leaves * 2)


class ScannIndex:
    """A loaded ScaNN searcher behind the VectorIndex interface, searching ``leaves`` leaves."""

    def __init__(self, searcher, size: int, leaves: int = -1) -> None:
        self._searcher, self._size, self._leaves = searcher, size, leaves

    def __len__(self) -> int:
        return self._size

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        k = min(k, self._size)
        rows, scores = self._searcher.search_batched(np.atleast_2d(queries).astype(np.float32), k, None, self._leaves)
        return np.asarray(scores, np.float32), np.asarray(rows, np.int64)


def save_scann(searcher, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    searcher.serialize(str(folder), relative_path=True)  # the folder is renamed after the build


@functools.cache
def _load_searcher(folder: Path, threads: int):
    import scann

    searcher = scann.scann_ops_pybind.load_searcher(str(folder))
    searcher.set_num_threads(threads)
    return searcher


def load_scann(folder: Path, size: int, leaves: int, threads: int = 1) -> ScannIndex:
    """The searcher saved in ``folder`` (loaded once per process), searching ``leaves`` leaves."""
    return ScannIndex(_load_searcher(folder, threads), size, leaves)
