import numpy as np

from facelead.models.ann import ScannParams, ScannIndex, build_scann, recall_at, tune_leaves
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


def test_tuning_raises_leaves_and_candidates_until_recall_is_met():
    vectors = _clustered(3000, 32, 0)
    params = ScannParams(leaves=30, leaves_to_search=1)
    searcher = build_scann(vectors, params, 50)
    tuned, reached = tune_leaves(searcher, vectors, params, 50, target=0.99)
    assert tuned.leaves_to_search > 1 and reached >= 0.99
    queries = l2_normalise(vectors[:50] + 0.05)
    rows = ScannIndex(searcher, len(vectors), tuned.leaves_to_search, tuned.reorder).search(queries, 50)[1]
    assert recall_at(rows, ExactIndex(vectors).search(queries, 50)[1]) >= 0.97


def test_tuning_reports_unreachable_recall_on_uniform_random_vectors():
    vectors = l2_normalise(np.random.default_rng(1).normal(size=(3000, 32)).astype(np.float32))
    params = ScannParams(leaves=30, leaves_to_search=1)
    tuned, reached = tune_leaves(build_scann(vectors, params, 50), vectors, params, 50, target=0.999)
    assert reached < 0.999  # the build then searches exactly


def test_tuning_a_gallery_smaller_than_its_leaves_can_answer():
    vectors = _clustered(65, 16, 2)  # two leaves of about 32: one leaf holds fewer than k+1 faces
    params = ScannParams(leaves=2, leaves_to_search=1)
    tuned, reached = tune_leaves(build_scann(vectors, params, 50), vectors, params, 50, target=0.99)
    assert 1 <= tuned.leaves_to_search <= 2 and 0 < reached <= 1
