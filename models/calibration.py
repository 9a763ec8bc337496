"""How likely a score is by chance: impostor scores, from a labeled set or a live gallery (pure).

An *impostor* pair is two faces of different subjects. The share of impostor pairs at or
above a score is the chance that one non-mate reaches it; times a gallery's size, the
number of chance candidates a search of that gallery expects at that score. A share is
read only where at least MIN_TAIL pairs lie beyond it; above every pair it is a bound.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

import numpy as np
from numpy.typing import NDArray

MIN_TAIL = 10  # impostor pairs expected beyond a reported chance
# Every cross-subject pair of this many faces, about 10.6 million, reads chances down to
# 1e-6 (MIN_TAIL pairs beyond); the score matrix is 85 MB and takes about a second.
GALLERY_SAMPLE = 4_600
STORED_SCORES = 1_000_000  # impostor scores kept per calibration (evenly spaced quantiles beyond)
CLOSEST_PAIRS = 20  # highest-scoring subject pairs listed as possible duplicates


@dataclass(frozen=True)
class ChanceEstimate:
    """How many non-mates are expected at or above a score in a gallery of ``gallery_size``;
    ``at_most``: the score is above every calibration impostor, so this is an upper bound."""

    expected: float
    gallery_size: int
    at_most: bool

    def describe(self) -> str:
        bound = "at most " if self.at_most else ""
        count = self.expected
        shown = f"{count:,.0f}" if count >= 100 else f"{count:.1f}" if count >= 1 else f"{count:.2g}"
        return f"expected chance candidates at this score in a gallery of {self.gallery_size:,}: {bound}{shown}"


def chance_probability(impostor_sorted: NDArray[np.float32], score: float, pairs: int | None = None) -> tuple[float, bool]:
    """P(a random non-mate scores >= ``score``) from ascending impostor scores (or evenly
    spaced quantiles of ``pairs`` of them): the share at or above it, monotone non-increasing
    in ``score`` and within (0, 1]; where none reaches it, the bound 1 / (pairs + 1) and True."""
    above = len(impostor_sorted) - int(np.searchsorted(impostor_sorted, score, side="left"))
    if above == 0:
        return 1.0 / ((pairs or len(impostor_sorted)) + 1), True
    return above / len(impostor_sorted), False


def chance_candidates(impostor_sorted: NDArray[np.float32], score: float, gallery_size: int,
                      pairs: int | None = None) -> ChanceEstimate:
    probability, at_most = chance_probability(impostor_sorted, score, pairs)
    return ChanceEstimate(probability * gallery_size, gallery_size, at_most)


def stored_scores(impostor: NDArray) -> NDArray[np.float32]:
    """Ascending impostor scores, thinned to STORED_SCORES evenly spaced quantiles beyond that."""
    ranked = np.sort(np.asarray(impostor, np.float32))
    if len(ranked) > STORED_SCORES:
        ranked = ranked[np.linspace(0, len(ranked) - 1, STORED_SCORES).round().astype(int)]
    return ranked


def score_at_chance(impostor_sorted: NDArray[np.float32], probability: float) -> float:
    """The score that a share ``probability`` of impostor pairs reach; above the readable
    range (fewer than one pair beyond), the highest impostor score."""
    rank = min(len(impostor_sorted) - 1, int(len(impostor_sorted) * probability))  # 0: the highest
    return float(impostor_sorted[len(impostor_sorted) - 1 - rank])


@dataclass(frozen=True)
class ClosePair:
    """Two gallery rows of different subjects that score high together: the best-scoring
    faces of that subject pair."""

    score: float
    row_a: int
    row_b: int


@dataclass(frozen=True)
class ImpostorSample:
    """Every cross-subject pair of ``faces`` sampled gallery faces, scored (ascending), and
    the highest-scoring subject pairs among them."""

    scores: NDArray[np.float32]
    faces: int
    closest: list[ClosePair]

    @property
    def pairs(self) -> int:
        return len(self.scores)

    @property
    def smallest_chance(self) -> float:
        """The smallest chance read from pairs rather than bounded: MIN_TAIL pairs beyond it."""
        return MIN_TAIL / max(self.pairs, 1)


def impostor_sample(vectors: NDArray[np.float32], identities: NDArray[np.int64], sample: int = GALLERY_SAMPLE,
                    closest: int = CLOSEST_PAIRS, seed: int = 0) -> ImpostorSample:
    """Score every pair of ``sample`` random faces (all of them in a smaller gallery) whose
    identity codes differ. ``identities``: one code per row; rows an operator marked as the
    same person share a code, so their pairs are not counted as impostors."""
    rows = np.sort(np.random.default_rng(seed).choice(len(vectors), min(sample, len(vectors)), replace=False))
    picked = np.asarray(vectors[rows], np.float32)
    scores = picked @ picked.T
    codes = np.asarray(identities)[rows]
    cross = np.triu(codes[:, None] != codes[None, :], k=1)
    impostor = np.sort(scores[cross])
    return ImpostorSample(impostor, len(rows), _closest_pairs(scores, cross, codes, rows, closest))


def _closest_pairs(scores: NDArray[np.float32], cross: NDArray[np.bool_], codes: NDArray[np.int64],
                   rows: NDArray[np.int64], count: int) -> list[ClosePair]:
    """The ``count`` highest cross-identity pairs, one per identity pair, in gallery rows."""
    masked = np.where(cross, scores, -np.inf).ravel()
    take = min(count * 20, int(cross.sum()))  # several faces of one identity pair may lead
    if not take:
        return []
    top = np.argpartition(masked, len(masked) - take)[len(masked) - take:]
    top = top[np.argsort(masked[top])[::-1]]
    seen, found = set(), []
    for a, b in zip(*np.unravel_index(top, scores.shape)):
        key = tuple(sorted((int(codes[a]), int(codes[b]))))
        if key not in seen:
            seen.add(key)
            found.append(ClosePair(float(scores[a, b]), int(rows[a]), int(rows[b])))
        if len(found) == count:
            break
    return found


def identity_codes(subject_ids: list[str], same_person: list[tuple[str, str]] = ()) -> NDArray[np.int64]:
    """One integer per row, equal for rows of one subject and for subjects an operator marked
    as the same person (transitively): arrays, not lists of names, go to the workers."""
    parent: dict[str, str] = {}

    def root(subject: str) -> str:
        while parent.get(subject, subject) != subject:
            subject = parent[subject]
        return subject

    for a, b in same_person:
        first, second = sorted((root(a), root(b)))
        if first != second:
            parent[second] = first
    return np.unique(np.asarray([root(s) for s in subject_ids], dtype=object), return_inverse=True)[1].astype(np.int64)


@dataclass(frozen=True)
class Calibration:
    """A stored calibration: ascending impostor scores (quantiles of ``pairs`` scored pairs)
    from a labeled set's evaluation or a gallery's cross-subject faces."""

    calibration_id: str
    model_id: str
    source: str
    gallery_id: str | None  # None: a labeled set
    pairs: int
    faces: int | None
    scores: NDArray[np.float32]
    created_at: datetime

    def chance(self, score: float, gallery_size: int) -> ChanceEstimate:
        return chance_candidates(self.scores, score, gallery_size, self.pairs)

    @property
    def smallest_chance(self) -> float:
        return MIN_TAIL / max(self.pairs, 1)


@dataclass(frozen=True)
class PossibleDuplicate:
    """One of a gallery calibration's closest subject pairs (``subject_a`` < ``subject_b``),
    with the newest operator mark: the same person, different people, or None (unmarked)."""

    rank: int
    subject_a: str
    face_a: str
    subject_b: str
    face_b: str
    score: float
    same_person: bool | None = None
    note: str | None = None
    marked_by: str | None = None
    marked_at: datetime | None = None
