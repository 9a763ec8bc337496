"""ScaNN indexes over unit vectors: build, save to a folder, load once per process, search.

An index is dot product over L2-normalised vectors: a k-means tree over the gallery,
anisotropic hashing to score the leaves searched, then exact re-scoring of the best
candidates (float32, or int8 to save memory).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray


HASH_BLOCKS = (4, 2)  # dimensions per hashing block: coarse (faster) first, finer where coarse cannot reach the target
REORDER_CHOICES = (2, 3, 5, 8)  # candidates re-scored per probe, as multiples of k, tried by tuning
RESCORE_COST = 30  # re-scoring one candidate costs about as much as hashing-scoring this many (measured)


@dataclass(frozen=True)
class ScannParams:
    """How a ScaNN index is built and searched; stored with every build and search."""

    leaves: int
    leaves_to_search: int
    dims_per_block: int = 4
    anisotropic_threshold: float = 0.2
    reorder: int = 100
    rescore: str = "float32"  # or "int8"
    training_sample: int = 100_000
    spherical: bool = True  # k-means on the unit sphere: the vectors are unit length
    noise_shaping: float = 0.2  # int8 re-scoring: quantise anisotropically, as the hashing does

    @classmethod
    def for_size(cls, vectors: int, rescore: str = "float32") -> ScannParams:
        """Starting points: about sqrt(N) leaves, 0.5% of them searched (a build then tunes
        leaves searched and candidates re-scored to its target recall)."""
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
              training_sample_size=min(params.training_sample, len(vectors)), spherical=params.spherical)
        .score_ah(params.dims_per_block, anisotropic_quantization_threshold=params.anisotropic_threshold)
        .reorder(params.reorder, quantize=rescore,
                 anisotropic_quantization_threshold=params.noise_shaping if params.rescore == "int8" else float("nan"))
    )
    builder.set_n_training_threads(threads)
    return builder.build()


def recall_at(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    """Mean fraction of each row of ``truth`` that the same row of ``found`` contains."""
    return float(np.mean([len(set(np.asarray(f).tolist()) & set(np.asarray(t).tolist())) / len(t)
                          for f, t in zip(found, truth)]))


def _without_self(rows: NDArray[np.int64], selves: NDArray[np.int64], k: int) -> list[list[int]]:
    """Each row's first k entries other than its probe's own row (fewer where the index
    returned fewer, or padded its answer with the probe's own row)."""
    return [[r for r in row if r != own][:k] for row, own in zip(rows.tolist(), selves.tolist())]


def _leaf_steps(start: int, leaves: int) -> list[int]:
    """Leaves to search, from ``start`` up to every leaf in steps of about 25%."""
    steps = [min(start, leaves)]
    while steps[-1] < leaves:
        steps.append(min(leaves, max(steps[-1] + 1, math.ceil(steps[-1] * 1.25))))
    return steps


@dataclass(frozen=True)
class TuningProbes:
    """Gallery rows searched as outside probes, and each one's exact top k without itself."""

    rows: NDArray[np.int64]
    truth: list[list[int]]


def tuning_probes(vectors: NDArray[np.float32], k: int, probes: int = 500, seed: int = 0) -> TuningProbes:
    """``probes`` random gallery rows and their exact answers, their own rows left out."""
    from facelead.models.index import ExactIndex

    rows = np.random.default_rng(seed).choice(len(vectors), min(probes, len(vectors)), replace=False)
    return TuningProbes(rows, _without_self(ExactIndex(vectors).search(vectors[rows], k + 1)[1], rows, k))


def tune_leaves(searcher, vectors: NDArray[np.float32], params: ScannParams, k: int, target: float,
                probes: TuningProbes | None = None) -> tuple[ScannParams, float]:
    """The cheapest (leaves searched, candidates re-scored) that reach recall@k >= target.

    Probes (``tuning_probes`` unless given) are gallery vectors searched as if they were
    not in the gallery (their own row is dropped from both answers), so the recall is what
    an outside probe would see. Cost is leaves searched x leaf size + RESCORE_COST x
    candidates; tuning starts from ``params.leaves_to_search`` leaves and ``params.reorder``
    candidates. Returns the tuned parameters and the recall they reached; a recall below
    ``target`` (every leaf searched, most candidates) means this gallery should be searched
    exactly.
    """
    k = min(k, len(vectors) - 1)
    probes = probes or tuning_probes(vectors, k)
    sample, leaf_size = vectors[probes.rows], len(vectors) / params.leaves
    best: tuple[float, ScannParams, float] | None = None
    fallback = (params, 0.0)
    reorders = {max(k + 1, r) for r in (params.reorder, *(m * k for m in REORDER_CHOICES)) if r >= params.reorder}
    for reorder in sorted(reorders):
        for leaves in _leaf_steps(params.leaves_to_search, params.leaves):
            cost = leaves * leaf_size + RESCORE_COST * reorder
            if best and cost >= best[0]:
                break
            found = np.asarray(searcher.search_batched(sample, k + 1, reorder, leaves)[0])
            reached = recall_at(_without_self(found, probes.rows, k), probes.truth)
            if reached >= target:
                best = (cost, replace(params, leaves_to_search=leaves, reorder=reorder), reached)
                break
            if reached > fallback[1]:
                fallback = (replace(params, leaves_to_search=leaves, reorder=reorder), reached)
    return (best[1], best[2]) if best else fallback


def build_tuned(vectors: NDArray[np.float32], params: ScannParams, k: int, target: float, threads: int = 1):
    """A searcher tuned to recall@k >= target: coarse hashing first, finer hashing if coarse
    cannot reach it. Returns (searcher, tuned parameters, recall reached); a recall below
    ``target`` (finest hashing) means the gallery should be searched exactly."""
    probes = tuning_probes(vectors, min(k, len(vectors) - 1))
    for block in HASH_BLOCKS:
        trial = replace(params, dims_per_block=block)
        searcher = build_scann(vectors, trial, k, threads)
        tuned, reached = tune_leaves(searcher, vectors, trial, k, target, probes)
        if reached >= target:
            break
    return searcher, tuned, reached


class ScannIndex:
    """A loaded ScaNN searcher behind the VectorIndex interface, searching ``leaves`` leaves
    and re-scoring ``reorder`` candidates (at least k)."""

    def __init__(self, searcher, size: int, leaves: int = -1, reorder: int | None = None) -> None:
        self._searcher, self._size, self._leaves, self._reorder = searcher, size, leaves, reorder

    def __len__(self) -> int:
        return self._size

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        k = min(k, self._size)
        reorder = max(k, self._reorder) if self._reorder else None
        rows, scores = self._searcher.search_batched(np.atleast_2d(queries).astype(np.float32), k, reorder, self._leaves)
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


def load_scann(folder: Path, size: int, params: dict, threads: int = 1) -> ScannIndex:
    """The searcher saved in ``folder`` (loaded once per process), searched with its build's
    stored ``params`` (leaves searched and candidates re-scored)."""
    return ScannIndex(_load_searcher(folder, threads), size, params["leaves_to_search"], params.get("reorder"))
