"""ScaNN index builds: equal to exact search, sharding, deltas, removals, atomic switch."""

from __future__ import annotations

import os

import pytest

from facelead import workflow
from facelead.policy import Action
from flows.build_index import build_index
from flows.enroll_gallery import enroll_gallery
from flows.rerun_search import rerun_search
from tasks import index as index_tasks
from warehouse import db

from fixtures import as_user, enroll_as_admin, run_search

GALLERY = "indexed"


@pytest.fixture(scope="module")
def indexed(enrolled, dask_runner):
    """The faces-dev gallery enrolled again under its own id, so these tests may change it."""
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(enrolled.manifest), gallery=GALLERY)
    return enrolled


@pytest.fixture(autouse=True)
def index_everything(monkeypatch):
    """Use the index whatever the gallery size, searching every leaf: results must be exact."""
    monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "0")
    monkeypatch.setenv("FACELEAD_INDEX__LEAVES_TO_SEARCH", "100000")


def _search(approved, probe, **kwargs):
    outcome = run_search(approved(probe, "TEST-INDEX", GALLERY), k=10, **kwargs)
    return [(c.face_id, round(c.score, 4)) for c in outcome.candidates], outcome


def _exact(approved, probe, monkeypatch):
    monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "1000000")
    try:
        return _search(approved, probe)[0]
    finally:
        monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "0")


def _stored(settings, search_id):
    with db.open_db(settings.database_path, read_only=True) as conn:
        return conn.execute("SELECT method, index_build_id, delta_size, search_params FROM searches WHERE search_id = ?",
                            [search_id]).fetchone()


def test_indexed_search_equals_exact_search_and_is_recorded(indexed, settings, monkeypatch, dask_runner, approved):
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=1)
    for probe, _ in indexed.probes[:4]:
        candidates, outcome = _search(approved, probe)
        assert candidates == _exact(approved, probe, monkeypatch)
        method, build_id, delta, params = _stored(settings, outcome.search_id)
        assert (method, build_id, delta) == ("scann", build.build_id, 0) and '"leaves"' in params


def test_a_rerun_gives_the_same_candidates(indexed, approved):
    probe, _ = indexed.probes[0]
    candidates, outcome = _search(approved, probe)
    report = as_user("analyst.test", Action.RERUN, rerun_search, search_id=outcome.search_id)
    assert report.identical and [(c.face_id, round(c.score, 4)) for c in report.candidates] == candidates
    assert candidates == _search(approved, probe)[0]


def test_sharded_equals_unsharded(indexed, settings, monkeypatch, dask_runner, approved):
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=3)
    assert build.shards == 3
    for probe, _ in indexed.probes[:3]:
        candidates, outcome = _search(approved, probe)
        assert candidates == _exact(approved, probe, monkeypatch)
        assert _stored(settings, outcome.search_id)[1] == build.build_id


def test_an_interrupted_build_leaves_the_old_index_serving(indexed, settings, monkeypatch, dask_runner, approved):
    probe, _ = indexed.probes[0]
    serving = _stored(settings, _search(approved, probe)[1].search_id)[1]

    def crash(*args, **kwargs):
        raise OSError("killed during the switch")

    monkeypatch.setattr(index_tasks.os, "replace", crash)
    with pytest.raises(OSError, match="killed"):
        as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=1)
    monkeypatch.setattr(index_tasks.os, "replace", os.replace)
    assert _stored(settings, _search(approved, probe)[1].search_id)[1] == serving
    assert (settings.index_dir / serving).is_dir()


def test_faces_enrolled_after_the_build_are_searched_as_a_delta(indexed, settings, tmp_path, dask_runner, approved):
    probe, _ = indexed.probes[1]
    _, earlier = _search(approved, probe)
    manifest = tmp_path / "late.csv"
    manifest.write_text(f"image_path,subject_id\n{probe},late-arrival\n")
    enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    _, outcome = _search(approved, probe)
    assert outcome.candidates[0].subject_id == "late-arrival"
    assert _stored(settings, outcome.search_id)[2] == 1
    assert as_user("analyst.test", Action.RERUN, rerun_search, search_id=earlier.search_id).identical  # the gallery as it stood then


def test_a_removed_subject_is_never_returned(indexed, settings, monkeypatch, approved):
    probe, person = indexed.probes[0]
    assert _search(approved, probe)[1].candidates[0].subject_id == person
    removed = workflow.remove_subject(settings.database_path, "admin.test", GALLERY, person, "retention test")
    assert removed
    indexed_result = _search(approved, probe)[1]
    assert person not in {c.subject_id for c in indexed_result.candidates}
    assert len(indexed_result.candidates) == 10
    monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "1000000")
    assert person not in {c.subject_id for c in _search(approved, probe)[1].candidates}


def test_an_int8_build_finds_what_exact_search_finds(indexed, settings, monkeypatch, dask_runner, approved):
    monkeypatch.setenv("FACELEAD_INDEX__RESCORE", "int8")
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=2)
    assert build.params["rescore"] == "int8"
    assert list((settings.index_dir / build.build_id).rglob("int8_codes.npy"))
    for probe, _ in indexed.probes[:4]:
        candidates, outcome = _search(approved, probe)
        exact = _exact(approved, probe, monkeypatch)
        assert _stored(settings, outcome.search_id)[1] == build.build_id
        assert candidates[0][0] == exact[0][0] and len({f for f, _ in candidates} & {f for f, _ in exact}) >= 9
        assert max(abs(a - b) for (_, a), (_, b) in zip(candidates, exact)) < 5e-3  # int8 scores are approximate


def test_a_build_whose_index_missed_its_targets_is_searched_exactly_over_its_rows(indexed, settings, monkeypatch,
                                                                                dask_runner, approved):
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=2)
    with db.open_db(settings.database_path) as conn, db.transaction(conn):  # as if tuning had missed its targets
        conn.execute("UPDATE index_builds SET exact_fallback = true WHERE build_id = ?", [build.build_id])
    probe = indexed.probes[2][0]
    found, outcome = _search(approved, probe)
    assert _stored(settings, outcome.search_id)[:3] == ("exact", build.build_id, 0)  # its rows, memory-mapped
    assert found == _exact(approved, probe, monkeypatch)


def test_a_changed_members_file_is_refused_not_read(indexed, settings, dask_runner, approved):
    """The members file names each hit: one edited after the build (a face swapped for
    another subject) must stop the search, not put a wrong name on a candidate."""
    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=1)
    members = settings.index_dir / build.build_id / "members.arrow"
    data = bytearray(members.read_bytes())
    middle = len(data) // 2  # within the id strings: a letter of a face or subject id changes
    data[middle] ^= 1
    members.write_bytes(bytes(data))
    with pytest.raises(ValueError, match="does not match the hash recorded at build time"):
        _search(approved, indexed.probes[0][0])


def test_with_a_cluster_a_sharded_build_is_searched_on_its_workers(indexed, settings, monkeypatch, dask_runner,
                                                                    approved, tmp_path):
    """As under `facelead serve`: a TLS cluster named by FACELEAD_DASK__ADDRESS searches the
    shards (each worker keeps those it searched loaded); the answer is exact search's."""
    from distributed import LocalCluster
    from distributed.security import Security

    from facelead.cluster import cluster_client, write_tls_files
    from facelead.settings import Settings

    build = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery=GALLERY, shards=3)
    security = Security.temporary()
    write_tls_files(security, tmp_path / "tls")
    with LocalCluster(n_workers=2, threads_per_worker=1, processes=True, host="127.0.0.1", dashboard_address=None,
                      security=security) as cluster:
        monkeypatch.setenv("FACELEAD_DASK__ADDRESS", cluster.scheduler_address)
        monkeypatch.setenv("FACELEAD_DASK__TLS_DIR", str(tmp_path / "tls"))
        for probe, _ in indexed.probes[:2]:
            candidates, outcome = _search(approved, probe)
            assert _stored(settings, outcome.search_id)[:2] == ("scann", build.build_id)
            assert candidates == _exact(approved, probe, monkeypatch)
        client = cluster_client(Settings().dask)

        def shards_loaded() -> int:
            from models.ann import _load
            return _load.cache_info().currsize

        assert sum(client.run(shards_loaded).values()) == 3  # every shard, on the workers
        client.close()
