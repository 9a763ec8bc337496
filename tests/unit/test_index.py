import numpy as np

from facelead.models.embed import l2_normalise
from facelead.models.index import ExactIndex
from facelead.tasks.search import rank_candidates


def _unit(n, d, seed):
    return l2_normalise(np.random.default_rng(seed).normal(size=(n, d)).astype(np.float32))


def test_exact_index_matches_a_full_sort():
    gallery, queries = _unit(500, 24, 0), _unit(7, 24, 1)
    scores, rows = ExactIndex(gallery).search(queries, 10)
    full = queries @ gallery.T
    expected = np.argsort(-full, axis=1)[:, :10]
    np.testing.assert_array_equal(rows, expected)
    np.testing.assert_allclose(scores, np.take_along_axis(full, expected, axis=1), rtol=1e-6)
    assert np.all(np.diff(scores, axis=1) <= 0)


def test_k_larger_than_the_gallery_returns_everything():
    scores, rows = ExactIndex(_unit(3, 8, 2)).search(_unit(1, 8, 3), 20)
    assert rows.shape == (1, 3) and sorted(rows[0]) == [0, 1, 2]


def test_candidates_are_ranked_from_one_with_their_subjects():
    gallery = np.eye(4, dtype=np.float32)
    probe = l2_normalise(np.array([[0.1, 0.9, 0.3, 0.0]], np.float32))[0]
    ranked = rank_candidates(ExactIndex(gallery), probe, ["f0", "f1", "f2", "f3"], ["a", "b", "c", "d"], 3)
    assert [(r.rank, r.subject_id) for r in ranked] == [(1, "b"), (2, "c"), (3, "a")]
    assert ranked[0].score > ranked[1].score > ranked[2].score
