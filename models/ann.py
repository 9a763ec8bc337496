"""ScaNN indexes over unit vectors: build, save to a folder, load once per process, search.

An index is dot product over L2-normalised vectors: a k-means tree over the gallery,
anisotropic hashing to score the leaves searched, then exact re-scoring of the best
candidates: by ScaNN with float32 vectors, or here with int8 vectors (``Int8Rows``) to
save memory.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Sequence
from dataclasses import asdict, dataclass, replace
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from models.calibration import GALLERY_SAMPLE, ImpostorSample, impostor_sample, score_at_chance
from models.index import ExactIndex, best_k, ranked

# Hashings a build tries, coarse (faster) first, finer where coarse cannot reach the target:
# (dimensions per block, centres per block). int8 indexes exist to save memory, so they
# refine with 256 centres (still a byte per block) rather than with smaller blocks.
HASHINGS = {"float32": ((4, 16), (2, 16)), "int8": ((4, 16), (4, 256))}
REORDER_CHOICES = (2, 3, 5, 8)  # candidates re-scored per probe, as multiples of k, tried by tuning
RESCORE_COST = 30  # re-scoring one candidate costs about as much as hashing-scoring this many (measured)
CONFIDENCE_Z = 1.645  # one-sided 95%: tuning's recall is a lower bound, so fresh probes meet the target
INT8_CODES, INT8_SCALES = "int8_codes.npy", "int8_scales.npy"  # beside ScaNN's files in an int8 index


@dataclass(frozen=True)
class ScannParams:
    """How a ScaNN index is built and searched; stored with every build and search."""

    leaves: int
    leaves_to_search: int
    dims_per_block: int = 4
    centres_per_block: int = 16  # 16 (4-bit codes, fastest) or 256
    anisotropic_threshold: float = 0.2
    reorder: int = 100
    rescore: str = "float32"  # or "int8"
    training_sample: int = 100_000
    spherical: bool = True  # k-means on the unit sphere: the vectors are unit length

    @classmethod
    def for_size(cls, vectors: int, rescore: str = "float32") -> ScannParams:
        """Starting points: about sqrt(N) leaves, 0.5% of them searched (a build then tunes
        leaves searched and candidates re-scored to its target recall)."""
        leaves = max(2, min(vectors // 50, round(math.sqrt(vectors))))
        return cls(leaves=leaves, leaves_to_search=max(1, math.ceil(leaves * 0.005)), rescore=rescore)

    def as_dict(self) -> dict:
        return asdict(self)


def build_scann(vectors: NDArray[np.float32], params: ScannParams, k: int, threads: int = 1):
    """A ScaNN searcher over ``vectors`` (rows are positions 0..N-1); it re-scores with
    float32 vectors itself, or leaves int8 re-scoring to ``Int8Rows``."""
    import scann

    builder = (
        scann.scann_ops_pybind.builder(np.ascontiguousarray(vectors, np.float32), k, "dot_product")
        .tree(num_leaves=params.leaves, num_leaves_to_search=params.leaves_to_search,
              training_sample_size=min(params.training_sample, len(vectors)), spherical=params.spherical)
        .score_ah(params.dims_per_block, anisotropic_quantization_threshold=params.anisotropic_threshold,
                  hash_type=f"lut{params.centres_per_block}")
    )
    if params.rescore == "float32":
        builder = builder.reorder(params.reorder)
    builder.set_n_training_threads(threads)
    return builder.build()


@dataclass(frozen=True)
class Int8Rows:
    """Gallery rows as int8 codes times one float32 scale per row, for re-scoring.

    ScaNN's own int8 re-scoring shares one multiplier per dimension across the gallery;
    a scale per row loses less (recall@50 ceiling about 0.995 instead of 0.991 on 1M
    identity-clustered 128-d vectors) for 4 more bytes a face.
    """

    codes: NDArray[np.int8]
    scales: NDArray[np.float32]

    CHUNK = 1 << 16  # rows quantised at a time: bounds the float32 copies

    @classmethod
    def of(cls, vectors: NDArray[np.float32]) -> Int8Rows:
        """Codes from each row's largest magnitude; the scale fitted by least squares so
        codes x scale reproduce the row as closely as they can."""
        codes = np.empty(vectors.shape, np.int8)
        scales = np.zeros(len(vectors), np.float32)
        for start in range(0, len(vectors), cls.CHUNK):
            rows = np.asarray(vectors[start:start + cls.CHUNK], np.float32)
            peak = np.abs(rows).max(axis=1, keepdims=True)
            rounded = np.round(rows * np.divide(127, peak, out=np.zeros_like(peak), where=peak > 0))
            codes[start:start + len(rows)] = rounded
            power = np.einsum("nd,nd->n", rounded, rounded)
            np.divide(np.einsum("nd,nd->n", rounded, rows), power, out=scales[start:start + len(rows)], where=power > 0)
        return cls(codes, scales)

    def scores(self, queries: NDArray[np.float32], rows: NDArray[np.int64]) -> NDArray[np.float32]:
        """(Q,D) queries and (Q,R) row numbers -> (Q,R) approximate inner products."""
        gathered = self.codes[rows].astype(np.float32)
        return np.matmul(gathered, queries[:, :, None])[:, :, 0] * self.scales[rows]

    def save(self, folder: Path) -> None:
        np.save(folder / INT8_CODES, self.codes)
        np.save(folder / INT8_SCALES, self.scales)

    @classmethod
    def load(cls, folder: Path) -> Int8Rows | None:
        """The rows saved in ``folder``, or None for an index that re-scores with float32."""
        if not (folder / INT8_CODES).exists():
            return None
        return cls(np.load(folder / INT8_CODES), np.load(folder / INT8_SCALES))


def _recalls(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> NDArray[np.float64]:
    """Fraction of each row of ``truth`` that the same row of ``found`` contains."""
    return np.array([len(set(np.asarray(f).tolist()) & set(np.asarray(t).tolist())) / len(t)
                     for f, t in zip(found, truth)])


def recall_at(found: Sequence[Sequence[int]], truth: Sequence[Sequence[int]]) -> float:
    """Mean fraction of each row of ``truth`` that the same row of ``found`` contains."""
    return float(np.mean(_recalls(found, truth)))


def _without_self(rows: NDArray[np.int64], selves: NDArray[np.int64], k: int) -> list[list[int]]:
    """Each row's first k entries other than its probe's own row (padding, row -1, where
    the index found fewer, never matches an exact answer)."""
    return [[r for r in row if r != own][:k] for row, own in zip(rows.tolist(), selves.tolist())]


def _leaf_steps(start: int, leaves: int) -> list[int]:
    """Leaves to search, from ``start`` up to every leaf in steps of about 25%."""
    steps = [min(start, leaves)]
    while steps[-1] < leaves:
        steps.append(min(leaves, max(steps[-1] + 1, math.ceil(steps[-1] * 1.25))))
    return steps


@dataclass(frozen=True)
class ChanceFloor:
    """The score at which a gallery of ``gallery_size`` faces expects one chance candidate
    for a probe, read from ``pairs`` scores between faces of different subjects."""

    score: float
    pairs: int
    gallery_size: int


def chance_floor(vectors: NDArray[np.float32], subjects: NDArray[np.int64], gallery_size: int,
                 sample: int = GALLERY_SAMPLE) -> ChanceFloor:
    """The impostor score exceeded with probability 1/``gallery_size`` (so a probe of nobody
    in the gallery meets about one face at or above it), from every cross-subject pair of
    ``sample`` random faces."""
    return floor_of(impostor_sample(vectors, subjects, sample, closest=0), gallery_size)


def floor_of(impostors: ImpostorSample, gallery_size: int) -> ChanceFloor:
    """The chance floor read from scored impostor pairs: 4,600 faces give 10.6 million pairs,
    enough to read 1/N for N up to a million (beyond, near the highest impostor score)."""
    if not impostors.pairs:
        return ChanceFloor(1.0, 0, gallery_size)
    return ChanceFloor(score_at_chance(impostors.scores, 1 / max(gallery_size, 1)), impostors.pairs, gallery_size)


@dataclass(frozen=True)
class Targets:
    """What an index must reach on the tuning probes to be searched instead of exact search."""

    floor_recall: float = 0.995     # of the faces scoring at or above the candidate floor
    rank1_agreement: float = 0.999  # mated probes whose first candidate is exact search's first (when a candidate)
    recall_at_k: float = 0.0        # over all k neighbours, mostly chance scores: information only by default


@dataclass(frozen=True)
class Judged:
    """An index's answers on the tuning probes, held against exact search."""

    floor_recall: float     # one-sided 95% lower bound (``CONFIDENCE_Z``) over probes with such faces
    rank1_agreement: float  # mean over mated probes whose exact first candidate is at or above the floor
    recall_at_k: float      # mean
    floor_faces: int        # faces at or above the floor in the probes' exact answers

    def meets(self, targets: Targets) -> bool:
        return (self.floor_recall >= targets.floor_recall and self.rank1_agreement >= targets.rank1_agreement
                and self.recall_at_k >= targets.recall_at_k)

    def key(self) -> tuple[float, float, float]:
        return self.floor_recall, self.rank1_agreement, self.recall_at_k


def weakest(judged: Sequence[Judged]) -> Judged:
    """A sharded build's verdict: each measure at its weakest shard's value."""
    return Judged(min(j.floor_recall for j in judged), min(j.rank1_agreement for j in judged),
                  min(j.recall_at_k for j in judged), sum(j.floor_faces for j in judged))


@dataclass(frozen=True)
class TuningProbes:
    """Gallery rows searched as outside probes (each one's own row left out of both answers),
    mated ones first, with exact search's answers. ``queries`` are the rows themselves or,
    for a share of them, poor captures of the same faces."""

    rows: NDArray[np.int64]
    queries: NDArray[np.float32]
    truth: list[list[int]]         # exact top k
    above_floor: list[list[int]]   # the faces of ``truth`` scoring at or above the floor
    mated: NDArray[np.bool_]       # the probe's subject has another face here


# Half the tuning probes are poor captures: a surveillance frame of a gallery face scores
# about 0.5 against it with SFace (faces-dev photos at 20-40 px between the eyes, blurred,
# dark, JPEG 50-85). Tuned on clean probes alone, a 1M-face build found 0.991 of the faces
# above the floor for such probes where its clean probes promised 0.996.
POOR_SHARE, POOR_COSINE = 0.5, 0.5


def poor_captures(vectors: NDArray[np.float32], cosine: float, rng: np.random.Generator) -> NDArray[np.float32]:
    """Unit vectors scoring about ``cosine`` against each row of ``vectors``: the rows with
    noise in a random direction, as a poor photo of the same face would embed."""
    noise = rng.normal(size=vectors.shape).astype(np.float32)
    noise -= np.sum(noise * vectors, axis=1, keepdims=True) * vectors  # orthogonal to each row
    noise /= np.linalg.norm(noise, axis=1, keepdims=True)
    return (cosine * vectors + math.sqrt(1 - cosine ** 2) * noise).astype(np.float32)


def tuning_probes(vectors: NDArray[np.float32], k: int, floor: float = 1.0, subjects: NDArray[np.int64] | None = None,
                  probes: int = 500, seed: int = 0, poor_share: float = POOR_SHARE,
                  poor_cosine: float = POOR_COSINE) -> TuningProbes:
    """Up to ``probes`` rows: faces of subjects with several faces here (leave-one-out mated
    probes) first, random others after; every other one of them (``poor_share``) searched as
    a poor capture at ``poor_cosine``; and their exact answers."""
    rng = np.random.default_rng(seed)
    count = min(probes, len(vectors))
    if subjects is None:
        mated_rows = np.empty(0, np.int64)
    else:
        _, inverse, counts = np.unique(subjects, return_inverse=True, return_counts=True)
        candidates = np.flatnonzero(counts[inverse] > 1)
        mated_rows = rng.choice(candidates, min(count, len(candidates)), replace=False)
    others = np.setdiff1d(np.arange(len(vectors)), mated_rows)
    rows = np.concatenate([mated_rows, rng.choice(others, count - len(mated_rows), replace=False)]).astype(np.int64)
    queries = np.array(vectors[rows], np.float32)
    poor = rng.random(len(rows)) < poor_share
    queries[poor] = poor_captures(queries[poor], poor_cosine, rng)
    scores, found = ExactIndex(vectors).search(queries, k + 1)
    truth = _without_self(found, rows, k)
    score_of = [dict(zip(f.tolist(), s.tolist())) for f, s in zip(found, scores)]
    above = [[r for r in t if score_of[i][r] >= floor] for i, t in enumerate(truth)]
    return TuningProbes(rows, queries, truth, above, np.arange(len(rows)) < len(mated_rows))


def judge(found: list[list[int]], probes: TuningProbes) -> Judged:
    """``found`` (each probe's answer, its own row left out) held against exact search."""
    floor_recalls = np.array([len(set(f) & set(a)) / len(a) for f, a in zip(found, probes.above_floor) if a])
    if len(floor_recalls) > 1:
        floor_recall = floor_recalls.mean() - CONFIDENCE_Z * floor_recalls.std(ddof=1) / math.sqrt(len(floor_recalls))
    else:
        floor_recall = floor_recalls.mean() if len(floor_recalls) else 1.0
    # The first candidate counts where exact search's is one (at or above the floor): below
    # it, the first of a poor capture is a stranger at a chance score, and which stranger
    # leads is noise that no analyst sees as a lead (the floor recall covers the rest).
    firsts = [bool(f) and f[0] == t[0] for f, t, a, m in zip(found, probes.truth, probes.above_floor, probes.mated)
              if m and a and a[0] == t[0]]
    return Judged(float(floor_recall), float(np.mean(firsts)) if firsts else 1.0, recall_at(found, probes.truth),
                  sum(len(a) for a in probes.above_floor))


def tune_leaves(index: ScannIndex, vectors: NDArray[np.float32], params: ScannParams, k: int, targets: Targets,
                probes: TuningProbes | None = None) -> tuple[ScannParams, Judged]:
    """The cheapest (leaves searched, candidates re-scored) whose answers meet ``targets``.

    Probes (``tuning_probes`` unless given) are gallery vectors searched as if they were not
    in the gallery (their own row is dropped from both answers), so the answers are what an
    outside probe would see. Cost is leaves searched x leaf size + RESCORE_COST x
    candidates; tuning starts from ``params.leaves_to_search`` leaves and ``params.reorder``
    candidates. Returns the tuned parameters and how they did; answers that miss a target
    (every leaf searched, most candidates) mean this gallery should be searched exactly.
    """
    k = min(k, len(vectors) - 1)
    probes = probes or tuning_probes(vectors, k)
    sample, leaf_size = probes.queries, len(vectors) / params.leaves
    best: tuple[float, ScannParams, Judged] | None = None
    fallback: tuple[ScannParams, Judged] | None = None
    reorders = {max(k + 1, r) for r in (params.reorder, *(m * k for m in REORDER_CHOICES)) if r >= params.reorder}
    for reorder in sorted(reorders):
        for leaves in _leaf_steps(params.leaves_to_search, params.leaves):
            cost = leaves * leaf_size + RESCORE_COST * reorder
            if best and cost >= best[0]:
                break
            found = index.search_with(sample, k + 1, leaves, reorder)[1]
            judged = judge(_without_self(found, probes.rows, k), probes)
            if judged.meets(targets):
                best = (cost, replace(params, leaves_to_search=leaves, reorder=reorder), judged)
                break
            if fallback is None or judged.key() > fallback[1].key():
                fallback = (replace(params, leaves_to_search=leaves, reorder=reorder), judged)
    return (best[1], best[2]) if best else fallback


def scann_index(vectors: NDArray[np.float32], params: ScannParams, k: int, threads: int = 1,
                int8: Int8Rows | None = None) -> ScannIndex:
    """An untuned index over ``vectors`` searched with ``params``; an int8 index re-scores
    with ``int8`` (``Int8Rows.of(vectors)`` unless given)."""
    int8 = (int8 or Int8Rows.of(vectors)) if params.rescore == "int8" else None
    return ScannIndex(build_scann(vectors, params, k, threads), len(vectors), params.leaves_to_search, params.reorder, int8)


def build_tuned(vectors: NDArray[np.float32], params: ScannParams, k: int, targets: Targets, floor: float = 1.0,
                subjects: NDArray[np.int64] | None = None, threads: int = 1) -> tuple[ScannIndex, ScannParams, Judged]:
    """An index tuned to ``targets`` (faces at or above ``floor`` found, mated probes' first
    candidate kept): coarse hashing first, finer hashing if coarse cannot reach them.
    Returns (index searched with the tuned parameters, those parameters, how they did);
    missed targets (finest hashing) mean the gallery should be searched exactly."""
    probes = tuning_probes(vectors, min(k, len(vectors) - 1), floor, subjects)
    int8 = Int8Rows.of(vectors) if params.rescore == "int8" else None  # the same for every hashing tried
    for block, centres in HASHINGS[params.rescore]:
        trial = replace(params, dims_per_block=block, centres_per_block=centres)
        index = scann_index(vectors, trial, k, threads, int8)
        tuned, judged = tune_leaves(index, vectors, trial, k, targets, probes)
        if judged.meets(targets):
            break
    return index.searching(tuned.leaves_to_search, tuned.reorder), tuned, judged


class ScannIndex:
    """A ScaNN searcher behind the VectorIndex interface, searching ``leaves`` leaves and
    re-scoring ``reorder`` candidates (at least k), with ``int8`` rows where it re-scores
    them itself, and answering batches on ``threads`` threads. Answers shorter than k (few
    faces in the leaves searched) are padded with row -1 and score -inf."""

    def __init__(self, searcher, size: int, leaves: int = -1, reorder: int | None = None,
                 int8: Int8Rows | None = None, threads: int = 1) -> None:
        self.searcher, self._size, self._leaves, self._reorder, self.int8 = searcher, size, leaves, reorder, int8
        self._threads = threads

    def __len__(self) -> int:
        return self._size

    def searching(self, leaves: int, reorder: int | None) -> ScannIndex:
        """This index searching ``leaves`` leaves and re-scoring ``reorder`` candidates."""
        return ScannIndex(self.searcher, self._size, leaves, reorder, self.int8, self._threads)

    def using_threads(self, threads: int) -> ScannIndex:
        """This index answering batches on ``threads`` threads; the searcher, and so its
        thread pool, is shared with every index made from it."""
        self.searcher.set_num_threads(max(1, threads - 1))  # a parallel search also runs on the calling thread;
        # one thread never searches in parallel (ScaNN crashes searching in parallel with an empty pool)
        return ScannIndex(self.searcher, self._size, self._leaves, self._reorder, self.int8, threads)

    def search(self, queries: NDArray[np.float32], k: int) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        return self.search_with(queries, k, self._leaves, self._reorder)

    def search_with(self, queries: NDArray[np.float32], k: int, leaves: int,
                    reorder: int | None) -> tuple[NDArray[np.float32], NDArray[np.int64]]:
        """Top-k searching ``leaves`` leaves and re-scoring ``reorder`` candidates; batches
        use the searcher's threads."""
        queries = np.ascontiguousarray(np.atleast_2d(queries), np.float32)
        k = min(k, self._size)
        reorder = max(k, reorder) if reorder else None
        parallel = self._threads > 1 and len(queries) > 1
        search = self.searcher.search_batched_parallel if parallel else self.searcher.search_batched
        if self.int8 is None:
            rows, scores = search(queries, k, reorder, leaves)
            scores, rows = np.asarray(scores, np.float32), np.asarray(rows, np.int64)
        else:
            candidates = reorder or k
            rows, hashed = search(queries, candidates, candidates, leaves)
            rows = np.asarray(rows, np.int64)
            scores, rows = ranked(*best_k(np.where(np.isnan(hashed), -np.inf, self.int8.scores(queries, rows)), rows, k))
        padded = ~np.isfinite(scores)  # ScaNN pads short answers with row 0 and NaN
        return np.where(padded, -np.inf, scores).astype(np.float32), np.where(padded, -1, rows)


def save_scann(index: ScannIndex, folder: Path) -> None:
    folder.mkdir(parents=True, exist_ok=True)
    index.searcher.serialize(str(folder), relative_path=True)  # the folder is renamed after the build
    if index.int8 is not None:
        index.int8.save(folder)


@functools.cache
def _load(folder: Path, size: int, threads: int) -> ScannIndex:
    import scann

    index = ScannIndex(scann.scann_ops_pybind.load_searcher(str(folder)), size, int8=Int8Rows.load(folder))
    return index.using_threads(threads)


def load_scann(folder: Path, size: int, params: dict, threads: int = 1) -> ScannIndex:
    """The index saved in ``folder`` (loaded once per process), searched with its build's
    stored ``params`` (leaves searched and candidates re-scored)."""
    return _load(folder, size, threads).searching(params["leaves_to_search"], params.get("reorder"))
