import numpy as np
import pytest

from models.ann import (
    Int8Rows,
    ScannParams,
    Targets,
    TuningProbes,
    build_tuned,
    chance_floor,
    judge,
    load_scann,
    poor_captures,
    recall_at,
    save_scann,
    scann_index,
    tune_leaves,
    tuning_probes,
)
from models.embed import l2_normalise
from models.index import ExactIndex, Ranked
from models.synthetic import realistic_gallery
from tasks.index import ShardHits, merge_hits, shard_rows


def test_shards_cover_every_row_once():
    parts = shard_rows(10, 3)
    assert [len(p) for p in parts] == [4, 3, 3]
    assert [row for part in parts for row in part] == list(range(10))
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
    index = scann_index(vectors, params, 50)
    clean = tuning_probes(vectors, 50, poor_share=0)  # recall@50 of poor captures is mostly noise
    tuned, judged = tune_leaves(index, vectors, params, 50, Targets(recall_at_k=0.99), clean)
    assert tuned.leaves_to_search > 1 and judged.recall_at_k >= 0.99
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
    index = scann_index(vectors, params, 50)
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
    index = scann_index(vectors, ScannParams(leaves=2, leaves_to_search=1, reorder=64, rescore=rescore), 60)
    scores, rows = index.search(vectors[:5], 60)
    assert rows.shape == (5, 60) and (rows == -1).any()
    assert np.all((rows == -1) == np.isneginf(scores))
    for found, score in zip(rows, scores):
        assert len(set(found[found >= 0].tolist())) == int((found >= 0).sum())  # no row twice, padding last
        assert np.all(np.diff(score[np.isfinite(score)]) <= 0) and np.all(found[np.isfinite(score).sum():] == -1)


def test_tuning_reports_unreachable_recall_on_uniform_random_vectors():
    vectors = l2_normalise(np.random.default_rng(1).normal(size=(3000, 32)).astype(np.float32))
    params = ScannParams(leaves=30, leaves_to_search=1)
    tuned, judged = tune_leaves(scann_index(vectors, params, 50), vectors, params, 50, Targets(recall_at_k=0.999))
    assert not judged.meets(Targets(recall_at_k=0.999))  # the build then searches exactly


def test_tuning_a_gallery_smaller_than_its_leaves_can_answer():
    vectors = _clustered(65, 16, 2)  # two leaves of about 32: one leaf holds fewer than k+1 faces
    params = ScannParams(leaves=2, leaves_to_search=1)
    tuned, judged = tune_leaves(scann_index(vectors, params, 50), vectors, params, 50, Targets(recall_at_k=0.99))
    assert 1 <= tuned.leaves_to_search <= 2 and 0 < judged.recall_at_k <= 1


def test_a_realistic_gallery_is_mostly_strangers_with_genuine_scores_like_sface():
    gallery = realistic_gallery(20_000, seed=5)
    _, counts = np.unique(gallery.subjects, return_counts=True)
    assert counts.max() <= 5 and 0.3 < np.mean(counts == 1) < 0.6 and len(counts) > 20_000 / 3
    same = np.flatnonzero(gallery.subjects[1:] == gallery.subjects[:-1])
    genuine = np.einsum("nd,nd->n", gallery.vectors[same], gallery.vectors[same + 1])
    impostor = np.einsum("nd,nd->n", gallery.vectors[:5000], gallery.vectors[10_000:15_000])
    assert 0.55 < np.median(genuine) < 0.75 and abs(np.mean(impostor)) < 0.01 and np.std(impostor) < 0.1


def test_the_chance_floor_is_where_one_chance_candidate_is_expected():
    gallery = realistic_gallery(20_000, seed=6)
    floor = chance_floor(gallery.vectors, gallery.subjects, gallery_size=20_000, sample=2000)
    probes = realistic_gallery(300, seed=7).vectors  # nobody in the gallery
    chance = (probes @ gallery.vectors.T >= floor.score).sum(axis=1).mean()
    assert floor.pairs > 1_900_000 and 0.3 < chance < 3  # about one
    assert chance_floor(gallery.vectors, gallery.subjects, 1_000_000, sample=2000).score > floor.score


def test_on_a_realistic_gallery_the_index_is_judged_by_what_the_analyst_sees():
    """Recall@50 over every neighbour is mostly chance scores and no index reaches 0.99 on it;
    the faces above the candidate floor and the first candidate it does reach, and cheaply."""
    gallery = realistic_gallery(30_000, seed=8)
    floor = chance_floor(gallery.vectors, gallery.subjects, len(gallery.vectors)).score
    params = ScannParams.for_size(len(gallery.vectors))
    index, tuned, judged = build_tuned(gallery.vectors, params, 50, Targets(), floor, gallery.subjects)
    assert judged.meets(Targets()) and judged.floor_faces > 300, judged
    assert judged.recall_at_k < 0.99  # judged by recall@50, this build would have been searched exactly
    mates = np.flatnonzero(gallery.subjects[1:] == gallery.subjects[:-1])[:200]
    rng = np.random.default_rng(9)
    centres = gallery.vectors[mates]  # a new photo near a gallery photo: an outside probe of that subject
    fresh = np.stack([v / np.linalg.norm(v) for v in centres + rng.normal(0, 0.06, centres.shape).astype(np.float32)])
    exact = ExactIndex(gallery.vectors).search(fresh, 1)[1][:, 0]
    assert np.mean(index.search(fresh, 50)[1][:, 0] == exact) >= 0.995


def test_half_the_tuning_probes_are_poor_captures_of_their_faces():
    """A surveillance frame scores about 0.5 against its own gallery photo; an index tuned on
    clean probes alone promises more than such probes get."""
    gallery = realistic_gallery(5_000, seed=10)
    captures = poor_captures(gallery.vectors[:500], 0.5, np.random.default_rng(1))
    assert np.allclose(np.linalg.norm(captures, axis=1), 1, atol=1e-5)
    assert np.allclose(np.einsum("nd,nd->n", captures, gallery.vectors[:500]), 0.5, atol=1e-5)
    probes = tuning_probes(gallery.vectors, 20, 0.4, gallery.subjects, probes=400)
    own = np.einsum("nd,nd->n", probes.queries, gallery.vectors[probes.rows])
    assert 0.4 < np.mean(np.isclose(own, 0.5, atol=1e-4)) < 0.6 and np.mean(np.isclose(own, 1, atol=1e-4)) > 0.4
    assert all(row not in truth for row, truth in zip(probes.rows.tolist(), probes.truth))  # left out


def test_the_first_candidate_is_judged_only_where_exact_search_has_a_candidate():
    """A poor probe whose exact first is a stranger below the floor has no lead to keep."""
    probes = TuningProbes(rows=np.array([0, 1]), queries=np.zeros((2, 4), np.float32),
                          truth=[[5, 6], [7, 8]], above_floor=[[], [7]], mated=np.array([True, True]))
    assert judge([[6, 5], [7, 8]], probes).rank1_agreement == 1.0  # the first probe's order is noise
    assert judge([[5, 6], [8, 7]], probes).rank1_agreement == 0.0  # the second probe's lead was lost
