"""Session fixtures of the integration and reliability tests: a Prefect test API, a data
folder, a real Dask LocalCluster runner, the real models, and faces-dev enrolled once
(leaving one photo out per person)."""

from __future__ import annotations

import contextvars
import csv
import json
import os
import socket
import subprocess
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import date
from pathlib import Path

import numpy as np
import pytest
from degraded import below_bar_inputs
from PIL import Image

FACES_DEV = Path(os.environ.get("FACELEAD_FACES_DEV", Path(__file__).resolve().parents[2] / "shared" / "data" / "faces-dev"))


@pytest.fixture(scope="session")
def data_dir(tmp_path_factory):
    """A fresh data folder for the session; the settings it needs are undone afterwards."""
    path = tmp_path_factory.mktemp("facelead-data")
    with pytest.MonkeyPatch.context() as env:
        for name, value in {"FACELEAD_DATA_DIR": str(path), "FACELEAD_USER": "analyst.test",
                            "FACELEAD_DASK__WORKERS": "2", "FACELEAD_DASK__IMAGES_PER_TASK": "8",
                            "FACELEAD_IMAGE_ROOTS": json.dumps([str(FACES_DEV)])}.items():
            env.setenv(name, value)
        yield path


@pytest.fixture(scope="session")
def prefect_api(data_dir):
    from prefect.testing.utilities import prefect_test_harness

    with prefect_test_harness(server_startup_timeout=180):
        yield


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="session")
def service(settings, prefect_api) -> str:
    """The facelead API on a free loopback port, served from a thread of this process (its
    flows run here, on the test Prefect API); its URL, also in FACELEAD_SERVICE__URL for
    the command line."""
    from facelead.service import start_api, stop_api
    from facelead.settings import Settings

    port = free_port()
    with pytest.MonkeyPatch.context() as env:
        env.setenv("FACELEAD_SERVICE__PORT", str(port))
        env.setenv("FACELEAD_SERVICE__URL", f"http://127.0.0.1:{port}")
        env.setenv("FACELEAD_SERVICE__SESSION_FILE", str(settings.data_dir.parent / "no-saved-session.json"))
        api = start_api(Settings(), run_in=contextvars.copy_context().run)
        yield f"http://127.0.0.1:{port}"
        stop_api(*api)


@pytest.fixture(scope="session")
def settings(data_dir):
    from facelead.settings import Settings

    return Settings()


TEST_PEOPLE = {  # user id: (roles, certified until)
    "analyst.test": (["analyst"], date(2099, 1, 1)),
    "analyst2.test": (["analyst"], date(2099, 1, 1)),
    "supervisor.test": (["supervisor"], None),
    "reviewer.test": (["reviewer"], date(2099, 1, 1)),
    "expired.test": (["analyst", "reviewer"], date(2020, 1, 1)),
    "auditor.test": (["auditor"], None),
}


def add_person(db_path: Path, actor: str | None, user_id: str, roles: list[str], certified: date | None) -> str:
    """Add a user as an admin would and set their own secret with the enrollment code, as
    they would; returns the secret."""
    from facelead.settings import SecuritySettings
    from facelead.workflow import add_user, set_secret

    code = add_user(db_path, actor, user_id, user_id, roles, certified, SecuritySettings())
    secret = f"secret of {user_id}"
    set_secret(db_path, user_id, code, secret, SecuritySettings())
    return secret


@pytest.fixture(scope="session")
def people(settings) -> dict[str, str]:
    """Users of the test database and their own secrets; FACELEAD_USER is analyst.test."""
    secrets = {"admin.test": add_person(settings.database_path, None, "admin.test", ["admin"], None)}
    for user_id, (roles, certified) in TEST_PEOPLE.items():
        secrets[user_id] = add_person(settings.database_path, "admin.test", user_id, roles, certified)
    return secrets


def as_user(user_id: str, action, flow, **params):
    """Run ``flow`` with ``params`` under a grant for ``user_id``, as facelead starts a run for
    a signed-in person (the flow itself checks the policy)."""
    from facelead.settings import Settings
    from facelead.workflow import grant_for

    return flow(**params, grant=grant_for(Settings(), user_id, action, flow, params))


def run_search(request_id: str, user: str = "analyst.test", **params):
    """``search_probe`` of ``request_id`` for ``user`` (by default the fixtures' filer)."""
    from facelead.policy import Action
    from flows.search_probe import search_probe

    return as_user(user, Action.SEARCH, search_probe, request_id=request_id, **params)


def enroll_as_admin(flow, **params):
    """An enrollment run (``flow`` may carry other options) for admin.test."""
    from facelead.policy import Action

    return as_user("admin.test", Action.ENROLL, flow, **params)


@pytest.fixture(scope="session")
def approved(people, settings):
    """approved(probe, case, gallery="dev") -> id of a request filed by analyst.test, approved by supervisor.test."""
    from facelead.casework import FilingRules
    from facelead.workflow import decide_request, file_request

    def make(probe, case: str, gallery: str = "dev") -> str:
        request = file_request(settings.database_path, "analyst.test", case, settings.offense_codes[0],
                               "integration test", Path(probe), gallery, FilingRules.of(settings))
        decide_request(settings.database_path, "supervisor.test", request, True, "test")
        return request

    return make


@pytest.fixture(scope="session")
def dask_runner(settings):
    from flows.runtime import dask_task_runner

    return dask_task_runner(settings)


@pytest.fixture(scope="session")
def models(settings):
    from tasks.faces import face_models

    return face_models(settings)


@pytest.fixture(scope="session")
def faces_dev() -> Path:
    if not (FACES_DEV / "labels.csv").is_file():
        pytest.skip(f"labeled test photos not found at {FACES_DEV} (set FACELEAD_FACES_DEV)")
    return FACES_DEV


@dataclass(frozen=True)
class EnrolledSet:
    manifest: Path
    probes: list[tuple[Path, str]]
    gallery_images: int
    bad_inputs: dict[str, str]
    below_bar: dict[str, str]
    summary: object


def _bad_inputs(folder: Path, sample_jpeg: Path) -> dict[str, str]:
    """Files that must be refused with the given reason while the rest enroll."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "truncated.jpg").write_bytes(sample_jpeg.read_bytes()[:2000])
    (folder / "notes.jpg").write_text("not a photo")
    (folder / "empty.jpg").write_bytes(b"")
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(folder / "grey wall é.png")
    return {"truncated.jpg": "corrupt", "notes.jpg": "not_an_image", "empty.jpg": "empty",
            "grey wall é.png": "no_face", "missing.jpg": "unreadable"}


@pytest.fixture(scope="session")
def enrolled(faces_dev, settings, people, dask_runner, models, tmp_path_factory) -> EnrolledSet:
    from flows.enroll_gallery import enroll_gallery

    rows = list(csv.DictReader((faces_dev / "labels.csv").open()))
    by_person = defaultdict(list)
    for row in rows:
        by_person[row["identity"]].append(faces_dev / row["path"])
    gallery, probes = [], []
    for person, paths in sorted(by_person.items()):
        paths = sorted(paths)
        if len(paths) >= 2:
            probes.append((paths[0], person))
            paths = paths[1:]
        gallery += [(p, person) for p in paths]
    work = tmp_path_factory.mktemp("inputs")
    bad = _bad_inputs(work / "bad", gallery[0][0])
    below_bar = below_bar_inputs(work / "below-bar", faces_dev, models)
    manifest = work / "gallery.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_path", "subject_id", "source", "acquired_at"])
        writer.writerows([str(p), person, "faces-dev", "2020-01-01"] for p, person in gallery)
        writer.writerows([f"bad/{name}", "S-BAD", "faces-dev", ""] for name in bad)
        writer.writerow(["bad/undated.jpg", "S-BAD", "faces-dev", "last tuesday"])
        writer.writerows([f"below-bar/{name}", "S-BELOW-BAR", "faces-dev", ""] for name in below_bar)
    summary = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery="dev")
    return EnrolledSet(manifest, probes, len(gallery), bad, below_bar, summary)


def api_url() -> str:
    """The Prefect API this test session runs against."""
    from prefect.settings import PREFECT_API_URL

    return PREFECT_API_URL.value()


@pytest.fixture
def hand_started_cluster(tmp_path):
    """`dask scheduler` and two single-thread `dask worker` processes with their own data
    folder; yields (scheduler address, worker processes)."""
    dask = [sys.executable, "-m", "distributed.cli.dask_scheduler"]
    scheduler_file = tmp_path / "scheduler.json"
    env = {**os.environ, "FACELEAD_DATA_DIR": str(tmp_path / "worker-data"), "PREFECT_API_URL": api_url()}
    processes = [subprocess.Popen([*dask, "--host", "127.0.0.1", "--port", "0", "--dashboard-address", "127.0.0.1:0",
                                   "--scheduler-file", str(scheduler_file)], env=env,
                                  stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)]
    worker = [sys.executable, "-m", "distributed.cli.dask_worker", "--scheduler-file", str(scheduler_file),
              "--nthreads", "1", "--no-dashboard", "--preload", "flows.worker_setup"]
    for name in ("w1", "w2"):
        processes.append(subprocess.Popen([*worker, "--name", name], env=env,
                                          stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL))
    from distributed import Client

    deadline = time.monotonic() + 120
    while not scheduler_file.exists() and time.monotonic() < deadline:
        time.sleep(0.5)
    with Client(scheduler_file=str(scheduler_file), timeout=60) as client:
        client.wait_for_workers(2, timeout=120)
        address = client.scheduler.address
    yield address, processes[1:]
    for process in reversed(processes):
        process.terminate()
        process.wait(30)


def distinct_copies(faces_dev: Path, folder: Path, count: int) -> int:
    """``count`` distinct files as ``<identity>/<n>.<ext>`` cycled from faces-dev's labeled
    photos; a unique trailer after the image data makes each file's content hash its own."""
    rows = list(csv.DictReader((faces_dev / "labels.csv").open()))
    for i in range(count):
        row = rows[i % len(rows)]
        source = faces_dev / row["path"]
        (folder / row["identity"]).mkdir(parents=True, exist_ok=True)
        (folder / row["identity"] / f"{i:04d}{source.suffix}").write_bytes(source.read_bytes() + f"copy-{i}".encode())
    return count
