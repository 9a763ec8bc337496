"""Faults: a Dask worker lost mid-enrollment, a database held by another process, an index
folder that cannot be written. The audit chain is checked after each. (A flow process
killed mid-enrollment: tests/integration/test_operations.py; an index build interrupted
half-way: tests/integration/test_index_builds.py.)"""

from __future__ import annotations

import logging
import multiprocessing as mp
import os
import shutil
import subprocess
import time
from contextlib import contextmanager
from pathlib import Path

import pytest

from facelead.policy import Action
from warehouse import chain, db, gallery_store

from fixtures import as_user, distinct_copies, enroll_as_admin, run_search


def _chain_ok(settings) -> bool:
    with db.open_db(settings.database_path, read_only=True) as conn:
        return chain.verify_audit(conn).ok


def test_a_dask_worker_killed_mid_enrollment_loses_and_duplicates_nothing(hand_started_cluster, faces_dev, settings,
                                                                          tmp_path, monkeypatch):
    import threading

    from facelead.settings import Settings
    from flows.enroll_gallery import enroll_gallery
    from flows.runtime import dask_task_runner

    address, workers = hand_started_cluster
    photos = distinct_copies(faces_dev, tmp_path / "photos", 80)
    monkeypatch.setenv("FACELEAD_DASK__ADDRESS", address)
    monkeypatch.setenv("FACELEAD_DASK__IMAGES_PER_TASK", "4")

    batches, done_at_kill = photos // 4, []

    def kill_a_worker_once_a_batch_is_done():
        from distributed import Client

        with Client(address, timeout=60) as client:
            deadline = time.monotonic() + 300
            while time.monotonic() < deadline:
                done = client.run_on_scheduler(
                    lambda dask_scheduler: sum(t.state == "memory" for t in dask_scheduler.tasks.values()))
                if done:
                    workers[0].kill()
                    done_at_kill.append(done)
                    return
                time.sleep(0.1)

    killer = threading.Thread(target=kill_a_worker_once_a_batch_is_done)
    killer.start()
    summary = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_task_runner(Settings())),
                              source=str(tmp_path / "photos"), gallery="worker-killed")
    killer.join()
    assert done_at_kill and done_at_kill[0] < batches, "the worker was not killed during the run"
    with db.open_db(settings.database_path, read_only=True) as conn:
        distinct, rows = conn.execute("SELECT count(DISTINCT f.image_sha256), count(*) FROM enrollments e "
                                      "JOIN faces f USING (face_id) WHERE e.gallery_id = 'worker-killed'").fetchone()
    assert summary.enrolled == distinct == rows == photos
    assert _chain_ok(settings)


def _hold(path: str, seconds: float, ready) -> None:
    conn = db.connect(Path(path))
    ready.set()
    time.sleep(seconds)
    conn.close()


def test_a_database_held_by_another_process_is_waited_for_with_a_log_line(tmp_path, caplog):
    path = tmp_path / "held.duckdb"
    db.connect(path).close()
    ready = mp.get_context("spawn").Event()
    holder = mp.get_context("spawn").Process(target=_hold, args=(str(path), 3.0, ready))
    holder.start()
    assert ready.wait(60)
    with caplog.at_level(logging.WARNING, logger="warehouse.db"):
        started = time.monotonic()
        with db.open_db(path, lock_timeout_s=120) as conn:  # waits until the holder lets go
            conn.execute("SELECT 1")
        waited = time.monotonic() - started
    holder.join(30)
    assert waited > 0.5 and "locked by another process; retrying" in caplog.text
    ready = mp.get_context("spawn").Event()
    holder = mp.get_context("spawn").Process(target=_hold, args=(str(path), 30.0, ready))
    holder.start()
    assert ready.wait(60)
    try:
        with pytest.raises(db.TransientDbError, match=rf"{path.name} is locked by another process.*gave up after 1s"):
            db.connect(path, lock_timeout_s=1.0)
    finally:
        holder.kill()
        holder.join(30)


@contextmanager
def _unwritable(folder: Path):
    """``folder`` refuses new entries, for root too (immutable flag) or by mode otherwise."""
    if os.geteuid() == 0:
        if not shutil.which("chattr") or subprocess.run(["chattr", "+i", str(folder)], capture_output=True).returncode:
            pytest.skip("cannot make a folder unwritable for root here (chattr +i refused)")
        try:
            yield
        finally:
            subprocess.run(["chattr", "-i", str(folder)], check=True)
    else:
        mode = folder.stat().st_mode
        folder.chmod(0o555)
        try:
            yield
        finally:
            folder.chmod(mode)


def test_an_unwritable_index_folder_is_a_clear_error_and_the_old_index_keeps_serving(
        enrolled, dask_runner, settings, models, approved, monkeypatch):
    from flows.build_index import build_index
    from tasks.index import IndexBuildError

    monkeypatch.setenv("FACELEAD_INDEX__EXACT_BELOW", "0")
    serving = as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery="dev")
    with _unwritable(settings.index_dir):
        with pytest.raises(IndexBuildError, match="cannot write a new index build here.*serving index is unchanged"):
            as_user("admin.test", Action.BUILD, build_index.with_options(task_runner=dask_runner), gallery="dev")
        outcome = run_search(approved(enrolled.probes[6][0], "REL-UNWRITABLE"), k=3)
    with db.open_db(settings.database_path, read_only=True) as conn:
        used = conn.execute("SELECT index_build_id FROM searches WHERE search_id = ?", [outcome.search_id]).fetchone()[0]
        active = gallery_store.active_build(conn, "dev", models.recogniser.model_id).build_id
    assert used == active == serving.build_id and _chain_ok(settings)
