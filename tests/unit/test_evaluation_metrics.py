"""Verification, identification and group metrics on constructed scores."""

from __future__ import annotations

import numpy as np
import pytest

from facelead.metrics import (
    PairScores,
    bootstrap_by_identity,
    degradation_plan,
    equal_error_rate,
    error_vs_discard,
    gallery_group_rates,
    group_differentials,
    identification,
    mated_search_rates,
    pair_scores,
    tar_at_far,
    threshold_at_far,
    wilson_interval,
)


def _clustered(identities: int, per_identity: int, noise: float, dim: int = 32, seed: int = 0):
    rng = np.random.default_rng(seed)
    centres = rng.normal(size=(identities, dim))
    vectors = np.repeat(centres, per_identity, axis=0) + noise * rng.normal(size=(identities * per_identity, dim))
    vectors /= np.linalg.norm(vectors, axis=1, keepdims=True)
    return vectors @ vectors.T, np.repeat(np.arange(identities), per_identity)


def test_pairs_are_split_by_identity_and_counted_once():
    scores = np.arange(16, dtype=float).reshape(4, 4)
    pairs = pair_scores(scores, np.array(["a", "a", "b", "b"]))
    assert sorted(pairs.genuine) == [1.0, 11.0] and sorted(pairs.impostor) == [2.0, 3.0, 6.0, 7.0]


def test_the_equal_error_rate_is_where_false_accepts_and_rejects_cross():
    pairs = PairScores(np.array([0.5, 0.6, 0.7, 0.8]), np.array([0.1, 0.2, 0.3, 0.55]))
    eer, threshold = equal_error_rate(pairs)
    assert eer == pytest.approx(0.25) and 0.5 < threshold <= 0.55


def test_a_far_is_only_reported_where_enough_impostor_pairs_exist():
    impostor = np.linspace(0, 1, 999)
    assert threshold_at_far(impostor, 1e-3) is None
    threshold = threshold_at_far(np.linspace(0, 1, 2000), 1e-2)
    assert np.mean(np.linspace(0, 1, 2000) >= threshold) <= 1e-2
    tar, _ = tar_at_far(PairScores(np.array([0.999, 0.5]), np.linspace(0, 1, 2000)), 1e-2)
    assert tar == 0.5


def test_separable_identities_rank_their_mate_first_and_leave_non_mates_out():
    scores, labels = _clustered(16, 3, noise=0.2)
    result = identification(scores, labels, candidates=5)
    assert result.cmc[0] == 1.0 and result.nonmated_searches == 4 * 3 and result.gallery_size == 12
    assert result.fnir_at_fpir["0.1"]["fnir"] == 0.0 and result.fnir_at_fpir["0.01"] is None
    with_failures = identification(scores, labels, candidates=5, failed=np.array([1, 1, 0]))  # 0 is held out
    assert with_failures.mated_searches == result.mated_searches + 2
    assert with_failures.cmc[0] == pytest.approx(result.mated_searches / (result.mated_searches + 2))
    assert with_failures.fnir_at_fpir["0.1"]["fnir"] == pytest.approx(2 / with_failures.mated_searches)


def test_bootstrap_intervals_bracket_the_point_estimate():
    scores, labels = _clustered(12, 4, noise=1.2)
    eer, _ = equal_error_rate(pair_scores(scores, labels))
    low, high = bootstrap_by_identity(scores, labels, reps=60)["eer"]
    assert low <= eer <= high and low < high


def test_a_group_with_too_few_pairs_is_flagged_and_not_compared():
    scores, labels = _clustered(20, 4, noise=1.0)
    groups = np.where(labels < 10, "A", np.where(labels < 19, "B", "C"))
    result = group_differentials(scores, labels, groups, threshold=0.3)
    assert result["groups"]["C"]["too_few_pairs"] and not result["groups"]["A"]["too_few_pairs"]
    assert result["compared_groups"] == 2
    rates = [result["groups"][g]["fmr"] for g in "AB"]
    assert result["fmr_ratio_worst_to_best"] == pytest.approx(max(rates) / min(rates))


def test_the_error_versus_discard_curve_drops_as_the_worst_pairs_go():
    scores, labels = _clustered(30, 4, noise=0.8, seed=3)
    rng = np.random.default_rng(4)
    quality = rng.uniform(0.5, 1.0, len(labels))
    poor = rng.choice(len(labels), 20, replace=False)
    quality[poor] = rng.uniform(-1.0, 0.0, 20)  # the poor images' genuine scores collapse
    for row in poor:
        scores[row, :] = scores[:, row] = rng.normal(0.0, 0.05, len(labels))
    threshold = float(np.median(pair_scores(scores, labels).genuine))
    curve = error_vs_discard(scores, labels, quality, threshold, (0.0, 0.1, 0.2, 0.3))
    fnmr = [point["fnmr"] for point in curve]
    assert all(a >= b for a, b in zip(fnmr, fnmr[1:])) and fnmr[-1] < fnmr[0] - 0.1
    assert [p["genuine_pairs"] for p in curve][0] == len(pair_scores(scores, labels).genuine)


def test_the_degradation_plan_keeps_one_gallery_photo_per_identity_and_probes_the_rest():
    identities = np.array(["a", "a", "a", "b", "c", "c"])
    gallery, probes = degradation_plan(identities, probes=10)
    assert gallery.tolist() == [0, 3, 4] and probes.tolist() == [1, 2, 5]
    assert len(degradation_plan(identities, probes=2)[1]) == 2


def test_mated_search_rates_count_a_probe_without_a_face_as_a_miss():
    gallery = np.eye(3, dtype=np.float32)
    probes = np.array([[0.9, 0.1, 0], [0.2, 0.1, 0]], np.float32)  # a's mate first; b's mate below a stranger
    rates = mated_search_rates(gallery, np.array(["a", "b", "c"]), probes, np.array(["a", "b"]), no_face=1,
                               threshold=0.5, candidates=2)
    assert rates == {"searches": 3, "no_face": 1, "rank1": pytest.approx(1 / 3), "fnir": pytest.approx(2 / 3)}


def test_a_gallery_s_groups_are_measured_from_its_own_subjects():
    from models.synthetic import realistic_gallery

    gallery = realistic_gallery(6_000, seed=9)
    groups = np.where(gallery.subjects % 3 == 0, "A", "B")
    groups[gallery.subjects == gallery.subjects[0]] = "C"  # one subject alone: too few pairs
    threshold = float(np.quantile(gallery.vectors[:2000] @ gallery.vectors[2000:4000].T, 0.999))
    report = gallery_group_rates(gallery.vectors, gallery.subjects, groups, threshold, sample=1500)
    a, b, c = (report["groups"][g] for g in "ABC")
    assert a["impostor_pairs"] > 1_000_000 and a["genuine_pairs"] > 100 and not a["too_few_pairs"]
    assert c["too_few_pairs"] and report["compared_groups"] == 2
    low, high = a["fmr_interval"]
    assert low <= a["fmr"] <= high and 0.0002 < a["fmr"] < 0.005  # about 1e-3 by construction
    assert a["fnmr_interval"][0] <= a["fnmr"] <= a["fnmr_interval"][1]


def test_the_wilson_interval_holds_the_rate_and_narrows_with_trials():
    narrow, wide = wilson_interval(10, 10_000), wilson_interval(1, 1_000)
    assert narrow[0] < 0.001 < narrow[1] and wide[0] < 0.001 < wide[1]
    assert narrow[1] - narrow[0] < wide[1] - wide[0] and wilson_interval(0, 0) is None
    assert wilson_interval(0, 100)[0] == 0.0
