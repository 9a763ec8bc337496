import numpy as np

from models.embed import l2_normalise
from models.index import ExactIndex, rank_candidates


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


def _full_sort(queries, gallery, k):
    scores = queries @ gallery.T
    rows = np.lexsort((np.broadcast_to(np.arange(len(gallery)), scores.shape), -scores), axis=1)[:, :k]
    return np.take_along_axis(scores, rows, 1), rows


def _assert_exact(found, queries, gallery, k):
    """Same scores as a full sort, and every row returned truly among the best k (rows whose
    scores differ in the last bit of a float may swap places between matrix-product blockings)."""
    scores, rows = found
    expected_scores, _ = _full_sort(queries, gallery, k)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)
    true_scores = np.take_along_axis(queries @ gallery.T, rows, 1)
    assert np.all(true_scores >= expected_scores[:, -1:] - 1e-6)
    assert all(len(set(r)) == k for r in rows.tolist())


def test_many_probes_search_the_gallery_in_blocks_and_still_match_a_full_sort():
    gallery, queries = _unit(6000, 16, 4), _unit(3000, 16, 5)  # 3000 probes: blocks of about 1,000 rows
    _assert_exact(ExactIndex(gallery).search(queries, 50), queries, gallery, 50)


def test_threads_split_the_gallery_and_merge_to_the_same_answer():
    gallery, queries = _unit(120_000, 8, 6), _unit(5, 8, 7)
    one, two = ExactIndex(gallery, threads=1).search(queries, 30), ExactIndex(gallery, threads=2).search(queries, 30)
    np.testing.assert_array_equal(one[1], two[1])
    _assert_exact(two, queries, gallery, 30)


def test_tied_scores_are_ordered_by_row():
    gallery = np.tile(np.eye(3, dtype=np.float32), (4, 1))  # rows 0, 3, 6, 9 score 1.0 against e0
    scores, rows = ExactIndex(gallery).search(np.eye(3, dtype=np.float32)[:1], 5)
    assert rows[0].tolist()[:4] == [0, 3, 6, 9] and scores[0, 0] == scores[0, 3] == 1.0
