"""Accuracy, calibration and demographic differentials from labeled embeddings (pure).

Scores are cosine similarities of unit vectors. A *genuine* pair is two images of one
identity, an *impostor* pair two images of different identities. FAR is the share of
impostor pairs scoring at or above a threshold, FRR the share of genuine pairs below it.
A rate is only reported where the pairs can carry it: at least MIN_TAIL impostor pairs
are expected above the threshold (so FAR 1e-3 needs 10,000 impostor pairs).
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass, field

import numpy as np
from numpy.typing import NDArray

from models.calibration import MIN_TAIL

FARS = (1e-2, 1e-3, 1e-4)
FPIRS = (1e-1, 1e-2)
MIN_GROUP_GENUINE, MIN_GROUP_IMPOSTOR = 20, 200  # fewer: the group's figures are flagged, not compared


@dataclass(frozen=True)
class PairScores:
    genuine: NDArray[np.float64]
    impostor: NDArray[np.float64]


def score_matrix(vectors: NDArray[np.float32]) -> NDArray[np.float64]:
    return (vectors @ vectors.T).astype(np.float64)


def pair_scores(scores: NDArray[np.float64], labels: NDArray, rows: NDArray[np.bool_] | None = None) -> PairScores:
    """Genuine and impostor scores of every unordered pair of distinct images (within ``rows``)."""
    i, j = np.triu_indices(len(labels), k=1)
    if rows is not None:
        keep = rows[i] & rows[j]
        i, j = i[keep], j[keep]
    same = labels[i] == labels[j]
    return PairScores(scores[i[same], j[same]], scores[i[~same], j[~same]])


def threshold_passing(scores: NDArray[np.float64], share: float) -> float:
    """The lowest threshold that at most ``share`` of ``scores`` reach (at or above it)."""
    ranked = np.sort(scores)[::-1]
    return float(np.nextafter(ranked[int(math.floor(share * len(ranked)))], np.inf))


def threshold_at_far(impostor: NDArray[np.float64], far: float) -> float | None:
    """The lowest threshold whose FAR is at most ``far``; None when too few impostor pairs."""
    return None if len(impostor) * far < MIN_TAIL else threshold_passing(impostor, far)


def tar_at_far(pairs: PairScores, far: float) -> tuple[float, float] | None:
    """(TAR, threshold) at ``far``, or None where the impostor pairs cannot carry it."""
    threshold = threshold_at_far(pairs.impostor, far)
    return None if threshold is None else (float(np.mean(pairs.genuine >= threshold)), threshold)


def error_rates(pairs: PairScores, thresholds: NDArray[np.float64]) -> tuple[NDArray, NDArray]:
    """(FAR, FRR) at each threshold."""
    imp, gen = np.sort(pairs.impostor), np.sort(pairs.genuine)
    far = 1.0 - np.searchsorted(imp, thresholds, side="left") / len(imp)
    frr = np.searchsorted(gen, thresholds, side="left") / len(gen)
    return far, frr


def equal_error_rate(pairs: PairScores) -> tuple[float, float]:
    """(EER, threshold): where FAR and FRR cross, over every observed score as a threshold."""
    thresholds = np.unique(np.concatenate([pairs.genuine, pairs.impostor]))
    far, frr = error_rates(pairs, thresholds)
    best = int(np.argmin(np.abs(far - frr)))
    return float((far[best] + frr[best]) / 2), float(thresholds[best])


def verification_metrics(pairs: PairScores) -> dict:
    eer, eer_threshold = equal_error_rate(pairs)
    tars = {}
    for far in FARS:
        found = tar_at_far(pairs, far)
        tars[f"{far:g}"] = None if found is None else {"tar": found[0], "threshold": found[1]}
    return {"genuine_pairs": len(pairs.genuine), "impostor_pairs": len(pairs.impostor),
            "genuine_mean": float(np.mean(pairs.genuine)), "impostor_mean": float(np.mean(pairs.impostor)),
            "eer": eer, "eer_threshold": eer_threshold, "tar_at_far": tars}


def bootstrap_by_identity(scores: NDArray[np.float64], labels: NDArray, reps: int, seed: int = 0) -> dict:
    """95% intervals of EER and TAR@FAR over ``reps`` resamples of identities with replacement."""
    identities = np.unique(labels)
    members = {identity: np.flatnonzero(labels == identity) for identity in identities}
    rng = np.random.default_rng(seed)
    draws: dict[str, list[float]] = {"eer": [], **{f"tar@{far:g}": [] for far in FARS}}
    for _ in range(reps):
        picked = rng.choice(identities, size=len(identities), replace=True)
        genuine, impostor = [], []
        for a, first in enumerate(picked):
            rows = members[first]
            genuine.append(scores[np.ix_(rows, rows)][np.triu_indices(len(rows), k=1)])
            for second in picked[a + 1:]:
                if second != first:
                    impostor.append(scores[np.ix_(rows, members[second])].ravel())
        pairs = PairScores(np.concatenate(genuine), np.concatenate(impostor))
        if not len(pairs.genuine) or not len(pairs.impostor):
            continue
        draws["eer"].append(equal_error_rate(pairs)[0])
        for far in FARS:
            found = tar_at_far(pairs, far)
            if found is not None:
                draws[f"tar@{far:g}"].append(found[0])
    return {name: [float(np.percentile(values, 2.5)), float(np.percentile(values, 97.5))] if len(values) >= reps // 2 else None
            for name, values in draws.items()}


@dataclass(frozen=True)
class Identification:
    """Closed-set CMC of mated searches and open-set FNIR at FPIR (NIST FRTE style)."""

    gallery_size: int
    mated_searches: int  # including those whose probe failed to enroll: counted as misses
    nonmated_searches: int
    cmc: list[float]  # cmc[r - 1]: share of mated searches with the mate at rank <= r
    fnir_at_fpir: dict[str, dict | None] = field(default_factory=dict)


def identification(scores: NDArray[np.float64], labels: NDArray, candidates: int, failed: NDArray | None = None,
                   held_out_every: int = 4) -> Identification:
    """Gallery: the first image of each identity except every ``held_out_every``-th identity,
    whose images become non-mated searches; the other images are mated searches. FNIR at
    FPIR counts a mated search as missed when its mate is not among the top ``candidates``
    at or above the threshold that lets the given share of non-mated searches through.
    ``failed``: identities of images that failed to enroll; those of gallery identities are
    mated searches that never find their mate (NIST counts them as misses)."""
    identities = np.unique(labels)
    held_out = set(identities[::held_out_every]) if len(identities) >= 2 * held_out_every else set()
    first = {identity: int(np.flatnonzero(labels == identity)[0]) for identity in identities}
    gallery = np.array([first[i] for i in identities if i not in held_out])
    enrolled = set(gallery.tolist())
    probes = np.array([r for r in range(len(labels)) if r not in enrolled])
    mated = np.array([p for p in probes if labels[p] not in held_out], dtype=int)
    nonmated = np.array([p for p in probes if labels[p] in held_out], dtype=int)
    ranks, mate_scores = [], []
    for probe in mated:
        row = scores[probe, gallery]
        mate = int(np.flatnonzero(labels[gallery] == labels[probe])[0])
        ranks.append(int(np.sum(row > row[mate])) + 1)
        mate_scores.append(row[mate])
    failed_mated = 0 if failed is None else int(np.isin(failed, labels[gallery]).sum())
    ranks += [len(gallery) + 1] * failed_mated
    mate_scores += [-np.inf] * failed_mated
    ranks_arr, mate_arr = np.array(ranks), np.array(mate_scores)
    cmc = [float(np.mean(ranks_arr <= r)) if len(ranks) else 0.0 for r in range(1, min(candidates, len(gallery)) + 1)]
    nonmate_top = np.array([scores[p, gallery].max() for p in nonmated])
    fnir = {}
    for fpir in FPIRS:
        if len(nonmate_top) * fpir < 1 or not len(ranks):
            fnir[f"{fpir:g}"] = None
            continue
        threshold = threshold_passing(nonmate_top, fpir)
        missed = (ranks_arr > candidates) | (mate_arr < threshold)
        fnir[f"{fpir:g}"] = {"fnir": float(np.mean(missed)), "threshold": threshold}
    return Identification(len(gallery), len(ranks), len(nonmated), cmc, fnir)


def group_differentials(scores: NDArray[np.float64], labels: NDArray, groups: NDArray, threshold: float) -> dict:
    """Per group value: pair counts, FMR (impostor pairs within the group at or above
    ``threshold``) and FNMR; groups with too few pairs are flagged and left out of the
    worst-to-best FMR ratio."""
    rows = {}
    for group in sorted(set(groups.tolist())):
        pairs = pair_scores(scores, labels, groups == group)
        few = len(pairs.genuine) < MIN_GROUP_GENUINE or len(pairs.impostor) < MIN_GROUP_IMPOSTOR
        rows[str(group)] = {
            "images": int(np.sum(groups == group)), "identities": len(set(labels[groups == group].tolist())),
            "genuine_pairs": len(pairs.genuine), "impostor_pairs": len(pairs.impostor),
            "fmr": float(np.mean(pairs.impostor >= threshold)) if len(pairs.impostor) else None,
            "fnmr": float(np.mean(pairs.genuine < threshold)) if len(pairs.genuine) else None,
            "too_few_pairs": few,
        }
    return {"threshold": threshold, "groups": rows, **_fmr_ratio(rows)}


def _fmr_ratio(rows: dict[str, dict]) -> dict:
    """The worst-to-best FMR ratio over the groups with enough pairs (None where it cannot be said)."""
    compared = [r["fmr"] for r in rows.values() if not r["too_few_pairs"] and r["fmr"] is not None]
    ratio = max(compared) / min(compared) if len(compared) >= 2 and min(compared) > 0 else None
    return {"fmr_ratio_worst_to_best": ratio, "compared_groups": len(compared)}


def operating_threshold(metrics: dict) -> tuple[str, float]:
    """The strictest reported FAR's threshold, else the EER threshold: (label, threshold)."""
    for far in reversed(FARS):
        found = metrics["tar_at_far"][f"{far:g}"]
        if found is not None:
            return f"FAR {far:g}", found["threshold"]
    return "EER", metrics["eer_threshold"]


def evaluate_embeddings(vectors: NDArray[np.float32], identities: NDArray, groups: dict[str, NDArray],
                        bootstrap: int, candidates: int, failed: NDArray) -> tuple[dict, PairScores]:
    """Every metric of one model on one labeled set, and its pair scores. ``groups``: per
    group column, each image's value; compared at the operating threshold. ``failed``: the
    identities of images that failed to enroll, misses in identification."""
    scores = score_matrix(vectors)
    pairs = pair_scores(scores, identities)
    verification = verification_metrics(pairs)
    point, threshold = operating_threshold(verification)
    return {
        "verification": verification,
        "intervals": bootstrap_by_identity(scores, identities, bootstrap) if bootstrap
        else {"eer": None, **{f"tar@{far:g}": None for far in FARS}},
        "identification": asdict(identification(scores, identities, candidates, failed)),
        "groups": {column: {**group_differentials(scores, identities, values, threshold), "operating_point": point}
                   for column, values in groups.items()},
    }, pairs


DISCARD_FRACTIONS = (0.0, 0.05, 0.1, 0.15, 0.2, 0.3, 0.4, 0.5)


def error_vs_discard(scores: NDArray[np.float64], labels: NDArray, quality: NDArray[np.float64], threshold: float,
                     fractions: tuple[float, ...] = DISCARD_FRACTIONS) -> list[dict]:
    """The error-versus-discard curve (ISO/IEC 29794-1): FNMR at the fixed ``threshold`` over
    the genuine pairs left after discarding each share of them, lowest pair quality (the
    lower of the two images' ``quality``) first."""
    i, j = np.triu_indices(len(labels), k=1)
    same = labels[i] == labels[j]
    i, j = i[same], j[same]
    genuine = scores[i, j]
    order = np.argsort(np.minimum(quality[i], quality[j]), kind="stable")
    curve = []
    for share in fractions:
        kept = order[int(round(share * len(order))):]
        curve.append({"discarded": share, "genuine_pairs": int(len(kept)),
                      "fnmr": float(np.mean(genuine[kept] < threshold)) if len(kept) else None})
    return curve


def quality_bar_report(vectors: NDArray[np.float32], identities: NDArray, passed: NDArray[np.bool_],
                       quality: NDArray[np.float64], candidates: int, failed: NDArray) -> dict:
    """What a quality bar buys, from every embedded face: verification and identification
    with no bar (``failed``: images with no usable face), the error-versus-discard curve at
    that ungated operating threshold, and the bar's own point on it (the share of genuine
    pairs it discards, an image of the pair failing it, and the FNMR of those it keeps)."""
    scores = score_matrix(vectors)
    verification = verification_metrics(pair_scores(scores, identities))
    point, threshold = operating_threshold(verification)
    i, j = np.triu_indices(len(identities), k=1)
    same = identities[i] == identities[j]
    kept = passed[i[same]] & passed[j[same]]
    genuine = scores[i[same], j[same]]
    return {
        "ungated": {"verification": verification,
                    "identification": asdict(identification(scores, identities, candidates, failed))},
        "operating_point": point, "threshold": threshold,
        "edc": error_vs_discard(scores, identities, quality, threshold),
        "bar": {"faces": int(len(passed)), "passed": int(passed.sum()),
                "genuine_pairs_discarded": float(1 - np.mean(kept)) if len(kept) else 0.0,
                "fnmr": float(np.mean(genuine[kept] < threshold)) if kept.any() else None,
                "fnmr_ungated": float(np.mean(genuine < threshold)) if len(genuine) else None},
    }


def degradation_plan(identities: NDArray, probes: int, seed: int = 0) -> tuple[NDArray, NDArray]:
    """(gallery rows, probe rows) for the degradation report: the first image of each
    identity is its gallery photo; up to ``probes`` of the others, drawn at random, are
    mated probes."""
    first = {identity: row for row, identity in reversed(list(enumerate(identities.tolist())))}
    gallery = np.array(sorted(first.values()), dtype=int)
    others = np.setdiff1d(np.arange(len(identities)), gallery)
    rng = np.random.default_rng(seed)
    return gallery, np.sort(rng.choice(others, min(probes, len(others)), replace=False)) if len(others) else others


def mated_search_rates(gallery: NDArray[np.float32], gallery_ids: NDArray, probes: NDArray[np.float32],
                       probe_ids: NDArray, no_face: int, threshold: float, candidates: int) -> dict:
    """Rank 1 and FNIR of mated searches against a one-photo-per-identity gallery: a miss
    when the mate is below ``threshold`` or beyond ``candidates``; a probe in which no face
    was found (``no_face``) is a miss."""
    searches = len(probe_ids) + no_face
    if not searches:
        return {"searches": 0, "no_face": 0, "rank1": None, "fnir": None}
    scores = probes @ gallery.T
    mate = np.array([int(np.flatnonzero(gallery_ids == who)[0]) for who in probe_ids], dtype=int)
    mate_scores = scores[np.arange(len(probe_ids)), mate] if len(probe_ids) else np.zeros(0)
    ranks = 1 + (scores > mate_scores[:, None]).sum(axis=1)
    missed = (ranks > candidates) | (mate_scores < threshold)
    return {"searches": int(searches), "no_face": int(no_face), "rank1": float(np.sum(ranks == 1) / searches),
            "fnir": float((np.sum(missed) + no_face) / searches)}


def wilson_interval(hits: int, trials: int, z: float = 1.96) -> list[float] | None:
    """95% Wilson score interval of a rate of ``hits`` in ``trials`` (pairs share faces, so
    it is narrower than the truth: read it as a lower bound on the uncertainty)."""
    if not trials:
        return None
    rate, spread = hits / trials, z * z / trials
    centre = (rate + spread / 2) / (1 + spread)
    half = z * math.sqrt(rate * (1 - rate) / trials + spread / (4 * trials)) / (1 + spread)
    return [max(0.0, centre - half), min(1.0, centre + half)]


def _genuine_scores(vectors: NDArray[np.float32], subjects: NDArray, rows: NDArray, limit: int,
                    rng: np.random.Generator) -> tuple[NDArray[np.float64], int]:
    """Scores of every pair of photos of one subject among ``rows`` (of up to ``limit``
    subjects with several photos, drawn at random), and how many subjects have several."""
    codes, inverse, counts = np.unique(subjects[rows], return_inverse=True, return_counts=True)
    several = np.flatnonzero(counts >= 2)
    chosen = rng.choice(several, min(limit, len(several)), replace=False) if len(several) else several
    order = np.argsort(inverse, kind="stable")
    starts = np.concatenate([[0], np.cumsum(counts)])
    scores = []
    for code in chosen.tolist():
        members = rows[order[starts[code]:starts[code + 1]]]
        block = vectors[members] @ vectors[members].T
        scores.append(block[np.triu_indices(len(members), k=1)])
    return (np.concatenate(scores).astype(np.float64) if scores else np.zeros(0)), int(len(several))


def gallery_group_rates(vectors: NDArray[np.float32], subjects: NDArray, groups: NDArray, threshold: float,
                        sample: int = 3000, subjects_limit: int = 20_000, seed: int = 0) -> dict:
    """Per group of a gallery's subjects, at ``threshold``: FMR over the pairs of different
    subjects among up to ``sample`` of the group's faces, FNMR over the pairs of photos of
    one subject (subjects with several photos), with counts and 95% intervals; groups with
    too few pairs are flagged and left out of the worst-to-best FMR ratio."""
    rng = np.random.default_rng(seed)
    rows = {}
    for group in sorted(set(groups.tolist())):
        members = np.flatnonzero(groups == group)
        picked = np.sort(rng.choice(members, min(sample, len(members)), replace=False))
        scores = vectors[picked] @ vectors[picked].T
        impostor = scores[np.triu(subjects[picked][:, None] != subjects[picked][None, :], k=1)]
        genuine, several = _genuine_scores(vectors, subjects, members, subjects_limit, rng)
        false_matches, false_non_matches = int(np.sum(impostor >= threshold)), int(np.sum(genuine < threshold))
        rows[str(group)] = {
            "faces": int(len(members)), "subjects": int(len(set(subjects[members].tolist()))),
            "subjects_with_several_photos": several, "impostor_pairs": int(len(impostor)),
            "genuine_pairs": int(len(genuine)),
            "fmr": false_matches / len(impostor) if len(impostor) else None,
            "fmr_interval": wilson_interval(false_matches, len(impostor)),
            "fnmr": false_non_matches / len(genuine) if len(genuine) else None,
            "fnmr_interval": wilson_interval(false_non_matches, len(genuine)),
            "too_few_pairs": len(genuine) < MIN_GROUP_GENUINE or len(impostor) < MIN_GROUP_IMPOSTOR,
        }
    return {"threshold": threshold, "groups": rows, **_fmr_ratio(rows)}
