import numpy as np

import pytest

from facelead.models.ann import Int8Rows, ScannParams, build_index, load_scann, recall_at, save_scann, tune_leaves
from facelead.models.embed import l2_normalise
from facelead.models.index import ExactIndex
from facelead.tasks.index import ShardHits, merge_hits, shard_rows
from facelead.tasks.search import Ranked


def test_shards_cover_every_row_once():
    parts = shard_rows(10, 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert np.concatenate(parts).tolist() == list(range(10))
    assert len(shard_rows(2, 5)) == 2


def test_merge_drops_removed_rows_and_ranks_index_and_delta_together():
    hits = [ShardHits(0, np.array([0.9, 0.5], np.float32), np.array([3, 1])),
            ShardHits(1, np.array([0.8], np.float32), np.array([0]))]
    members = {(0, 3): ("f-a", "alice"), (0, 1): ("f-b", "bob"), (1, 0): ("f-c", "carol")}
    delta = [Ranked(1, 0.85, "f-d", "dave")]
    merged = merge_hits(hits, members, removed={(0, 3)}, delta=delta, k=3)
    assert [(r.rank, r.subject_id) for r in merged] == [(1, "dave"), (2, "carol"), (3, "bob")]


def test_params_scale_with_the_gallery():
    small, large = ScannParams.for_size(10_000), ScannParams.for_size(1_000_000)
    assert small.leaves < large.leaves and 1 <= large.leaves_to_search < large.leaves


def _clustered(n, dim, seed):
    """Unit vectors around 60 centres, as face embeddings cluster by identity."""
    rng = np.random.default_rng(seed)
    centres = l2_normalise(rng.normal(size=(60, dim)).astype(np.float32))
    return l2_normalise(centres[rng.integers(0, 60, n)] + rng.normal(size=(n, dim)).astype(np.float32) * 0.12)


@pytest.mark.parametrize("rescore", ["float32", "int8"])
def test_tuning_raises_leaves_and_candidates_until_recall_is_met(rescore):
    vectors = _clustered(3000, 32, 0)
    params = ScannParams(leaves=30, leaves_to_search=1, rescore=rescore)
    index = build_index(vectors, params, 50)
    tuned, reached = tune_leaves(index, vectors, params, 50, target=0.99)
    assert tuned.leaves_to_search > 1 and reached >= 0.99
    queries = l2_normalise(vectors[:50] + 0.05)
    rows = index.searching(tuned.leaves_to_search, tuned.reorder).search(queries, 50)[1]
    assert recall_at(rows, ExactIndex(vectors).search(queries, 50)[1]) >= 0.97


def test_int8_rows_score_within_quantisation_error_of_float32():
    vectors = _clustered(2000, 128, 3)
    queries = l2_normalise(vectors[:40] + 0.1)
    rows = np.tile(np.arange(2000), (40, 1))
    error = Int8Rows.of(vectors).scores(queries, rows) - queries @ vectors.T
    assert np.abs(error).max() < 1e-2 and np.abs(error).mean() < 1e-3  # a code step is about 0.3 / 127
    assert Int8Rows.of(np.zeros((2, 8), np.float32)).scores(np.ones((1, 8), np.float32), np.array([[0, 1]])).tolist() == [[0, 0]]


def test_an_int8_index_saves_its_rows_and_loads_them_again(tmp_path):
    vectors = _clustered(3000, 32, 4)
    params = ScannParams(leaves=30, leaves_to_search=30, reorder=200, rescore="int8")
    index = build_index(vectors, params, 50)
    save_scann(index, tmp_path / "build")
    loaded = load_scann(tmp_path / "build", len(vectors), params.as_dict())
    assert loaded.int8 is not None and np.array_equal(loaded.int8.codes, index.int8.codes)
    queries = l2_normalise(vectors[:20] + 0.05)
    assert np.array_equal(loaded.search(queries, 10)[1], index.search(queries, 10)[1])
    rows, exact = loaded.search(queries, 10)[1], ExactIndex(vectors).search(queries, 10)[1]
    assert np.array_equal(rows[:, 0], exact[:, 0]) and recall_at(rows, exact) >= 0.95


@pytest.mark.parametrize("rescore", ["float32", "int8"])
def test_short_answers_are_padded_with_no_row(rescore):
    vectors = _clustered(65, 16, 2)
    index = build_index(vectors, ScannParams(leaves=2, leaves_to_search=1, reorder=64, rescore=rescore), 60)
    scores, rows = index.search(vectors[:5], 60)
    assert rows.shape == (5, 60) and (rows == -1).any()
    assert np.all((rows == -1) == np.isneginf(scores))
    for found, score in zip(rows, scores):
        assert len(set(found[found >= 0].tolist())) == int((found >= 0).sum())  # no row twice, padding last
        assert np.all(np.diff(score[np.isfinite(score)]) <= 0) and np.all(found[np.isfinite(score).sum():] == -1)


def test_tuning_reports_unreachable_recall_on_uniform_random_vectors():
    vectors = l2_normalise(np.random.default_rng(1).normal(size=(3000, 32)).astype(np.float32))
    params = ScannParams(leaves=30, leaves_to_search=1)
    tuned, reached = tune_leaves(build_index(vectors, params, 50), vectors, params, 50, target=0.999)
    assert reached < 0.999  # the build then searches exactly


def test_tuning_a_gallery_smaller_than_its_leaves_can_answer():
    vectors = _clustered(65, 16, 2)  # two leaves of about 32: one leaf holds fewer than k+1 faces
    params = ScannParams(leaves=2, leaves_to_search=1)
    tuned, reached = tune_leaves(build_index(vectors, params, 50), vectors, params, 50, target=0.99)
    assert 1 <= tuned.leaves_to_search <= 2 and 0 < reached <= 1
