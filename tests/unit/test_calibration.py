"""Chance candidates from impostor scores, and a gallery's own calibration sample."""

from __future__ import annotations

import numpy as np
import pytest

from models.calibration import (
    GALLERY_SAMPLE,
    STORED_SCORES,
    chance_candidates,
    chance_probability,
    identity_codes,
    impostor_sample,
    score_at_chance,
    stored_scores,
)
from models.synthetic import realistic_gallery


def test_calibration_is_monotone_bounded_and_says_when_it_is_only_a_bound():
    impostor = np.sort(np.random.default_rng(1).normal(0.1, 0.1, 5000)).astype(np.float32)
    probabilities = [chance_probability(impostor, s)[0] for s in np.linspace(-0.5, 1.0, 200)]
    assert all(0 < p <= 1 for p in probabilities)
    assert all(a >= b for a, b in zip(probabilities, probabilities[1:]))
    estimate = chance_candidates(impostor, 0.95, 1_000_000)
    assert estimate.at_most and estimate.expected == pytest.approx(1_000_000 / 5001)
    assert estimate.describe().endswith("in a gallery of 1,000,000: at most 200")
    assert not chance_candidates(impostor, 0.1, 100).at_most


def test_thinned_scores_keep_the_share_above_and_the_bound_counts_every_pair():
    impostor = np.random.default_rng(2).normal(0.0, 0.1, 3 * STORED_SCORES).astype(np.float32)
    kept = stored_scores(impostor)
    assert len(kept) == STORED_SCORES and np.all(np.diff(kept) >= 0)
    for score in (0.1, 0.2, 0.3):
        assert chance_probability(kept, score)[0] == pytest.approx(np.mean(impostor >= score), rel=0.02)
    assert chance_probability(kept, 2.0, pairs=len(impostor)) == (1 / (len(impostor) + 1), True)


def test_a_gallery_sample_reads_chances_down_to_one_in_a_million():
    gallery = realistic_gallery(6_000, seed=3)
    sample = impostor_sample(gallery.vectors, gallery.subjects)
    assert sample.faces == GALLERY_SAMPLE and sample.pairs > 10_000_000 and sample.smallest_chance <= 1e-6
    assert np.all(np.diff(sample.scores) >= 0)
    probes = realistic_gallery(300, seed=4).vectors  # nobody in the gallery
    floor = score_at_chance(sample.scores, 1 / len(gallery.vectors))
    assert 0.3 < (probes @ gallery.vectors.T >= floor).sum(axis=1).mean() < 3  # about one chance candidate


def test_the_closest_subject_pairs_find_a_person_enrolled_twice_and_marking_removes_them():
    gallery = realistic_gallery(2_000, seed=5)
    vectors, subjects = gallery.vectors.copy(), gallery.subjects.copy()
    twin = int(np.flatnonzero(subjects != subjects[0])[-1])
    vectors[twin] = vectors[0]  # subject 0's photo again, under another id
    sample = impostor_sample(vectors, subjects)
    first = sample.closest[0]
    assert {first.row_a, first.row_b} == {0, twin} and first.score == pytest.approx(1.0, abs=1e-5)
    assert len({tuple(sorted((subjects[p.row_a], subjects[p.row_b]))) for p in sample.closest}) == len(sample.closest)
    names = [f"S{code}" for code in subjects]
    merged = identity_codes(names, [(names[0], names[twin])])
    assert merged[0] == merged[twin] and len(np.unique(merged)) == len(np.unique(subjects)) - 1
    cleaned = impostor_sample(vectors, merged)
    assert cleaned.scores[-1] < 0.99 and cleaned.pairs < sample.pairs


def test_marks_merge_transitively():
    codes = identity_codes(["a", "b", "c", "d"], [("a", "b"), ("c", "b")])
    assert codes[0] == codes[1] == codes[2] != codes[3]
