"""Operating facelead: a real Prefect server and worker from `facelead serve`, deployments
from prefect.yaml, a Dask cluster started by hand, and two flow runs on one database."""

from __future__ import annotations

import base64
import json
import os
import pwd
import re
import shutil
import signal
import socket
import subprocess
import sys
import sysconfig
import tempfile
import threading
import time
from contextlib import contextmanager
from datetime import date
from pathlib import Path
from uuid import UUID

import pytest
from pages import CHROMIUM, Person, browser  # noqa: F401 (browser: a fixture)

from facelead.policy import Action
from warehouse import chain, db, gallery_store

from fixtures import api_url, distinct_copies, enroll_as_admin

PROJECT = Path(__file__).resolve().parents[2]
LEAKY = "a-credential-no-child-may-inherit"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def _photos(faces_dev: Path, folder: Path, people: int, per_person: int = 2) -> int:
    """Copy ``per_person`` photos of the first ``people`` identities into <subject>/<image>."""
    copied = 0
    for person in sorted(p for p in (faces_dev / "identities").iterdir() if p.is_dir())[:people]:
        for photo in sorted(person.iterdir())[:per_person]:
            (folder / person.name).mkdir(parents=True, exist_ok=True)
            shutil.copy(photo, folder / person.name / photo.name)
            copied += 1
    return copied


def _faces(db_path: Path, gallery: str, model_id: str) -> int:
    with db.open_db(db_path, read_only=True) as conn:
        return gallery_store.gallery_size(conn, gallery, model_id)


@contextmanager
def _serving(folder: Path, python: str = sys.executable, project: Path = PROJECT, **env_extra: str):
    """`facelead serve --deploy` (by ``python``) on a free loopback port with its data in
    ``folder``; stopped after."""
    port, service_port, data = _free_port(), _free_port(), folder / "served-data"
    env = {**os.environ, "FACELEAD_DATA_DIR": str(data), "FACELEAD_DASK__WORKERS": "1",
           "FACELEAD_DASK__IMAGES_PER_TASK": "4", "FACELEAD_SERVICE__PORT": str(service_port),
           "FACELEAD_TOKEN": LEAKY, "SOME_API_SECRET": LEAKY, **env_extra}
    env.pop("PREFECT_API_URL", None)
    log = (folder / "serve.log").open("w")
    process = subprocess.Popen([python, "-m", "facelead.cli", "serve", "--port", str(port), "--deploy",
                                "--project", str(project), "--limit", "2"], env=env, stdout=log, stderr=subprocess.STDOUT,
                               cwd=project)
    process.service_url = f"http://127.0.0.1:{service_port}"
    try:
        yield process, f"http://127.0.0.1:{port}/api", data, folder / "serve.log"
    finally:
        if process.poll() is None:  # the test failed before stopping it
            process.send_signal(signal.SIGINT)
            try:
                process.wait(120)
            except subprocess.TimeoutExpired:
                process.kill()


@pytest.fixture
def served(tmp_path):
    with _serving(tmp_path) as running:
        yield running


def _wait_for_deployments(client, process, log: Path, count: int, timeout_s: float = 240, swallow: bool = True) -> list:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        try:
            deployments = client.read_deployments()
            if len(deployments) >= count and "Worker '" in log.read_text():
                return deployments
        except Exception as exc:  # the server is still starting
            if not swallow and "401" in str(exc):
                raise
        time.sleep(2)
    raise AssertionError(f"deployments did not appear: {log.read_text()[-3000:]}")


def _wait_for_run(client, flow_name: str, timeout_s: float = 240):
    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        runs = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=[flow_name])))
        if runs and runs[0].state and runs[0].state.is_final():
            return runs[0]
        time.sleep(2)
    raise AssertionError(f"no {flow_name} run finished within {timeout_s}s")


def _descendants(pid: int) -> list[int]:
    children = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        children.setdefault(int(fields[1]), []).append(int(stat.parent.name))
    found, todo = [], [pid]
    while todo:
        for child in children.get(todo.pop(), []):
            found.append(child)
            todo.append(child)
    return found


def _environ(pid: int) -> dict[str, str]:
    try:
        raw = Path(f"/proc/{pid}/environ").read_bytes()
    except OSError:
        return {}
    return dict(item.split("=", 1) for item in raw.decode(errors="replace").split("\0") if "=" in item)


def _refused_search_runs(data: Path, faces_dev: Path) -> list[str]:
    """Runs of the search-probe deployment through the Prefect API (analyst.ops and
    supervisor.ops exist): without a grant, with a grant minted without the service's key,
    with an expired grant, with a grant for other parameters, and with a grant already
    spent; the reasons the audit log gives for each refusal."""
    from prefect.deployments import run_deployment

    from facelead import grants
    from facelead.casework import FilingRules
    from facelead.settings import Settings
    from facelead.workflow import decide_request, file_request, grant_for, run_principal
    from flows.search_probe import search_probe

    settings = Settings(data_dir=data)
    probe = next((faces_dev / "identities").glob("*/*"))
    request = file_request(settings.database_path, "analyst.ops", "OPS-API", settings.offense_codes[0],
                           "operations test", probe, "ops", FilingRules.of(settings))
    decide_request(settings.database_path, "supervisor.ops", request, True, "ok")
    params = {"request_id": request, "k": 20, "face_index": None, "quality_override": None}
    key = grants.read_key(settings.grant_key_path, create=True)
    spent = grant_for(settings, "analyst.ops", Action.SEARCH, search_probe, params)
    run_principal(settings, Action.SEARCH, f"request:{request}", params, spent, scheduled=False)
    forged = grants.issue(b"a key that is not the service's".ljust(32), "analyst.ops", Action.SEARCH, params, 600,
                          time.time())
    for grant in (None, forged, grants.issue(key, "analyst.ops", Action.SEARCH, params, 60, time.time() - 3600),
                  grant_for(settings, "analyst.ops", Action.SEARCH, search_probe, {**params, "k": 50}), spent):
        run = run_deployment("search-probe/search-probe", parameters={**params, "grant": grant}, timeout=300)
        assert run.state.is_completed() and run.state.name == "Refused", run.state  # a refusal, not a failure
        assert re.match(r"refused: (no_grant|grant_\w+) \(", run.state.message), run.state.message
    with db.open_db(settings.database_path, read_only=True) as conn:
        return [json.loads(r.details)["reason"] for r in chain.audit_rows(conn) if r.action == "search.refused"]


def _dask_connects(address: str, security: str) -> str:
    """'connected' or 'refused': a Dask client in another process, as another local user's
    would be, trying ``address`` with ``security`` (Python source of a Security or None)."""
    script = ("from distributed import Client\nfrom distributed.security import Security\n"
              f"try:\n    Client({address!r}, security={security}, timeout=5).close()\n    print('connected')\n"
              "except Exception:\n    print('refused')\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True, timeout=120)
    return done.stdout.strip().splitlines()[-1] if done.stdout.strip() else f"no answer: {done.stderr[-500:]}"


def _search_through_the_api(service_url: str, data: Path, faces_dev: Path) -> list[dict]:
    """An analyst's search through serve's own API (its flow runs in serve, on serve's
    Prefect server behind basic auth): the candidates it returns."""
    from facelead.client import ServiceClient

    analyst, supervisor = ServiceClient(service_url), ServiceClient(service_url)
    analyst.sign_in("analyst.ops", "secret of analyst.ops")
    supervisor.sign_in("supervisor.ops", "secret of supervisor.ops")
    probe = sorted((faces_dev / "identities").iterdir())[0]
    photo = sorted(probe.iterdir())[-1]
    request = analyst.json("POST", "/api/requests", {
        "case_number": "OPS-SERVED", "offense_code": "violent-felony", "justification": "operations test", "gallery": "ops",
        "probe_name": photo.name, "probe_base64": base64.b64encode(photo.read_bytes()).decode()})["request_id"]
    supervisor.json("POST", f"/api/requests/{request}/approve", {"reason": "ok"})
    outcome = analyst.json("POST", f"/api/requests/{request}/search", {"k": 3})
    assert outcome["candidates"][0]["subject_id"] == probe.name, outcome
    return outcome["candidates"]


# Prefect's one-shot token of a run's own cancel channel to its worker (the run takes it out of
# its environment at start); it opens nothing else.
RUN_OWN = {"PREFECT__CONTROL_TOKEN"}


class _EnvironmentWatch(threading.Thread):
    """Samples the environment of every process under ``pid`` twice a second until stopped:
    the names of variables that carry ``secrets`` or look like credentials, per process."""

    def __init__(self, pid: int, secrets: list[str]) -> None:
        super().__init__(daemon=True)
        self.pid, self.secrets, self.leaks, self.seen, self.flow_runs = pid, secrets, {}, set(), set()
        self.stopped = threading.Event()

    def run(self) -> None:
        while not self.stopped.wait(0.5):
            for child in _descendants(self.pid):
                environ = _environ(child)
                self.seen.add(child)
                if "PREFECT__FLOW_RUN_ID" in environ:
                    self.flow_runs.add(child)
                leaked = [name for name, value in environ.items() if name not in RUN_OWN and (
                    any(secret in value for secret in self.secrets if secret) or "TOKEN" in name
                    or "SECRET" in name or "AUTH_STRING" in name)]
                if leaked:
                    self.leaks[child] = (leaked, environ.get("PREFECT__FLOW_RUN_ID"))


def _service_secret(data: Path, timeout_s: float = 240) -> str:
    """The Prefect server's secret as the service account holds it (in serve's owner-only profile)."""
    profile = data / "prefect" / "profiles.toml"
    deadline = time.monotonic() + timeout_s
    while not profile.is_file() and time.monotonic() < deadline:
        time.sleep(1)
    return re.search(r"PREFECT_API_AUTH_STRING = '([^']+)'", profile.read_text())[1]


def _web_session(service_url: str, user_id: str, secret: str):
    """An httpx client signed in to the web pages (the session cookie), as a browser would be."""
    import httpx

    client = httpx.Client(base_url=service_url, timeout=120)
    answer = client.post("/login", data={"user_id": user_id, "secret": secret, "next": "/"})
    assert answer.status_code == 303, answer.text
    return client


def _audit(data: Path) -> list:
    with db.open_db(data / "facelead.duckdb", read_only=True) as conn:
        return chain.audit_rows(conn)


def _console_attacks(operator, deployments: dict[str, dict], drop: Path, marker: Path) -> list[tuple[int, str]]:
    """What an operator's own signed-in session gets for each way to run code through the
    Prefect console: (status, refusal reason) per attempt."""
    enroll = deployments["enroll-gallery"]["id"]
    attempts = [
        ("POST", f"/prefect/api/deployments/{enroll}/create_flow_run",
         {"parameters": {"source": str(drop), "gallery": "ops"}, "job_variables": {"command": f"touch {marker}"}}),
        ("POST", f"/prefect/api/deployments/{enroll}/create_flow_run",
         {"parameters": {"source": str(drop), "gallery": "ops"}, "job_variables": {"env": {"PYTHONSTARTUP": "x"}}}),
        ("POST", "/prefect/api/deployments/", {
            "name": "mine", "flow_id": deployments["enroll-gallery"]["flow_id"], "entrypoint": ENROLL_ENTRYPOINT,
            "pull_steps": [{"prefect.deployments.steps.run_shell_script": {"script": f"touch {marker}"}}]}),
        ("PATCH", f"/prefect/api/deployments/{enroll}", {"entrypoint": "os.system"}),
        ("PATCH", "/prefect/api/work_pools/facelead", {"base_job_template": {}}),
        ("POST", "/prefect/api/flow_runs/", {"flow_id": deployments["enroll-gallery"]["flow_id"]}),
        ("POST", "/prefect/api/variables/", {"name": "x", "value": "y"}),
        ("POST", f"/prefect/api/deployments/{enroll}/create_flow_run",
         {"parameters": {"source": str(drop), "gallery": "ops", "grant": "a copied grant"}}),
    ]
    answers = []
    for method, path, body in attempts:
        answer = operator.request(method, path, json=body)
        answers.append((answer.status_code, answer.json().get("reason", "")))
    return answers


def _worker_refusals(api_url: str, auth: str, deployments: dict[str, dict], marker: Path) -> list:
    """Straight to the Prefect API with the service's own secret (as only the service
    account could): a run with a command in its job variables, a deployment of its own and
    the registered one with its entrypoint changed. The worker starts none; their final states."""
    from prefect.client.orchestration import get_client
    from prefect.deployments import run_deployment
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth}), \
            get_client(sync_client=True) as client:
        commanded = run_deployment("enroll-gallery/enroll-gallery", timeout=240, parameters={"gallery": "ops"},
                                   job_variables={"command": f"touch {marker}"})
        states = [commanded.state]
        for name in ("mine", "enroll-gallery"):  # a deployment of its own; the registered one, changed
            changed = client.create_deployment(flow_id=deployments["enroll-gallery"]["flow_id"], name=name,
                                               entrypoint="os.system", work_pool_name="facelead",
                                               work_queue_name="default")
            run = client.create_flow_run_from_deployment(changed)
            deadline = time.monotonic() + 240
            while not (run := client.read_flow_run(run.id)).state.is_final() and time.monotonic() < deadline:
                time.sleep(2)
            states.append(run.state)
        return states


def _wait_for_run_id(operator, run_id: str, timeout_s: float = 300) -> dict:
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        run = operator.get(f"/prefect/api/flow_runs/{run_id}").json()
        if run["state"]["type"] in ("COMPLETED", "FAILED", "CRASHED", "CANCELLED"):
            return run
        time.sleep(2)
    raise AssertionError(f"run {run_id} did not finish")


ENROLL_ENTRYPOINT = "flows/enroll_gallery.py:enroll_gallery"


def test_serve_fronts_the_prefect_console_for_operators_alone_and_runs_only_registered_flows(
        served, faces_dev, models, tmp_path):
    """The operator console through facelead: an operator signed in as themselves starts an
    enrollment from its deployment (audited under their name; the trigger then rebuilds the
    index as the schedule); every way to run other code through the console, or past it to
    the worker, is refused and audited; people without the operator role, and the
    Prefect port without the service's secret, get nothing."""
    import httpx
    from prefect.client.orchestration import get_client
    from prefect.settings import PREFECT_API_AUTH_STRING, PREFECT_API_URL, temporary_settings

    from facelead.client import ServiceClient

    from fixtures import add_person

    process, api_url, data, log = served
    photos = _photos(faces_dev, tmp_path / "drop", people=3)
    auth = _service_secret(data)
    watch = _EnvironmentWatch(process.pid, [LEAKY, auth.split(":", 1)[1]])
    watch.start()
    with temporary_settings({PREFECT_API_URL: api_url}), get_client(sync_client=True) as client:
        with pytest.raises(Exception, match="401|Unauthorized"):  # the Prefect port answers the service alone
            _wait_for_deployments(client, process, log, 8, timeout_s=60, swallow=False)
    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth}), \
            get_client(sync_client=True) as client:
        _wait_for_deployments(client, process, log, 8)
    assert not (data / "secrets" / "prefect-console").exists()

    db_path = data / "facelead.duckdb"
    umask = os.umask(0o077)  # as the service account's `facelead users add` on the host writes
    add_person(db_path, None, "admin.ops", ["admin"], None)
    for user_id, roles, certified in (("operator.ops", ["operator"], None),
                                      ("analyst.ops", ["analyst"], date(2099, 1, 1)),
                                      ("supervisor.ops", ["supervisor"], None)):
        add_person(db_path, "admin.ops", user_id, roles, certified)
    os.umask(umask)
    service = process.service_url
    assert httpx.get(f"{service}/prefect/api/health").status_code == 401  # not signed in
    operator = _web_session(service, "operator.ops", "secret of operator.ops")
    page = operator.get("/prefect/")
    assert page.status_code == 200 and "<html" in page.text.lower()
    ui = operator.get("/prefect/ui-settings").json()
    assert ui["auth"] is None and ui["api_url"].endswith("/prefect/api")
    deployments = {d["name"]: d for d in operator.post("/prefect/api/deployments/filter", json={}).json()}
    assert set(deployments) == {"enroll-gallery", "build-index", "calibrate-gallery", "search-probe", "rerun-search",
                                "retention-purge", "oversight-report", "evaluate"}
    assert {n for n, d in deployments.items() if d["schedules"]} == {
        "enroll-gallery", "build-index", "retention-purge", "oversight-report"}

    for _ in range(5):  # Prefect's server answers 503 while its own database is busy; a person tries again
        started = operator.post(f"/prefect/api/deployments/{deployments['enroll-gallery']['id']}/create_flow_run",
                                json={"parameters": {"source": str(tmp_path / "drop"), "gallery": "ops"}})
        if started.status_code != 503:
            break
        time.sleep(2)
    assert started.status_code == 201, started.text
    run = _wait_for_run_id(operator, started.json()["id"])
    assert run["state"]["type"] == "COMPLETED", (run["state"], log.read_text()[-3000:])
    artifacts = {a["key"] for a in operator.post("/prefect/api/artifacts/filter", json={}).json()
                 if a["flow_run_id"] == run["id"]}
    assert {"enrollment-progress", "enrollment-summary"} <= artifacts
    audit = _audit(data)
    assert [(r.actor, json.loads(r.details)["flow_run_id"]) for r in audit if r.action == "console.run"] == [
        ("operator.ops", run["id"])]
    assert [r.actor for r in audit if r.action == "enrollment.start"] == ["operator.ops"]

    marker = tmp_path / "ran-as-the-service-account"
    answers = _console_attacks(operator, deployments, tmp_path / "drop", marker)
    assert all(status == 403 for status, _ in answers), answers
    assert [reason for _, reason in answers] == ["job_variables", "job_variables", "console_call", "console_call",
                                                  "console_call", "console_call", "console_closed", "console_run"]
    refused = [r for r in _audit(data) if r.action == "console.refused"]
    assert len(refused) == len(answers) and {r.actor for r in refused} == {"operator.ops"}

    analyst = _web_session(service, "analyst.ops", "secret of analyst.ops")
    assert analyst.post("/prefect/api/flow_runs/filter", json={}).status_code == 403
    assert _audit(data)[-1].actor == "analyst.ops" and _audit(data)[-1].action == "console.refused"

    from prefect.client.schemas.filters import FlowFilter, FlowFilterName

    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth}), \
            get_client(sync_client=True) as client:
        rebuild = _wait_for_run(client, "build-index")  # the deployment trigger on facelead.enrollment.completed
        assert rebuild.state.is_completed() and rebuild.parameters == {"gallery": "ops"}
        enrollments = client.read_flow_runs(flow_filter=FlowFilter(name=FlowFilterName(any_=["enroll-gallery"])))
        assert [r.id for r in enrollments if not r.auto_scheduled] == [UUID(run["id"])]  # refused calls started nothing
        [cluster] = re.findall(r"Dask cluster for flow runs at (tls://[\d.:]+)", log.read_text())
        from prefect.client.schemas.filters import LogFilter, LogFilterFlowRunId

        run_logs = client.read_logs(LogFilter(flow_run_id=LogFilterFlowRunId(any_=[run["id"]])))
        assert any(cluster in entry.message for entry in run_logs), "the run did not use serve's Dask cluster"
    by_schedule = {r.action for r in _audit(data) if r.actor == "prefect-schedule"}
    assert by_schedule and not any(action.endswith(".refused") for action in by_schedule), by_schedule

    states = _worker_refusals(api_url, auth, deployments, marker)
    assert all(state.is_failed() for state in states) and not marker.exists(), states
    launched = [json.loads(r.details)["reason"] for r in _audit(data) if r.action == "flow_run.refused"]
    assert launched == ["job_variables", "unregistered", "entrypoint"]

    with temporary_settings({PREFECT_API_URL: api_url, PREFECT_API_AUTH_STRING: auth}):
        reasons = _refused_search_runs(data, faces_dev)
    assert reasons == ["no_grant", "grant_invalid", "grant_expired", "grant_params", "grant_spent"]
    assert _search_through_the_api(service, data, faces_dev)
    admin = ServiceClient(service)  # a run the API starts in serve's own process
    admin.sign_in("admin.ops", "secret of admin.ops")
    admin.json("POST", "/api/galleries/ops/index", {"shards": None})
    assert "Creating a new Dask cluster" not in log.read_text(), "a run started its own cluster beside serve's"
    assert _faces(db_path, "ops", models.recogniser.model_id) == photos

    ca = data / "secrets" / "dask" / "ca.pem"
    for attempt in ("None", "Security.temporary()",  # no certificates; certificates of another CA
                    f"Security(tls_ca_file={str(ca)!r}, require_encryption=True)"):  # the CA, no client certificate
        assert _dask_connects(cluster, attempt) == "refused", attempt
    assert _dask_connects(cluster.replace("tls://", "tcp://"), "None") == "refused"
    tls = data / "secrets" / "dask"
    assert _dask_connects(cluster, f"Security(tls_ca_file={str(tls / 'ca.pem')!r}, require_encryption=True, "
                                   f"tls_client_cert={str(tls / 'cert.pem')!r}, tls_client_key={str(tls / 'key.pem')!r})"
                          ) == "connected"  # the service account's own files do connect

    watch.stopped.set()
    watch.join()
    assert len(watch.seen) >= 3 and watch.flow_runs, watch.seen  # the server, the worker, Dask, flow runs
    assert not watch.leaks, watch.leaks
    loose = [p for p in [data, *data.rglob("*")] if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert not loose, loose[:10]

    process.send_signal(signal.SIGINT)
    assert process.wait(120) == 0
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(api_url.rsplit(":", 1)[1].split("/")[0]))) != 0, "server left running"
    with socket.socket() as sock:
        assert sock.connect_ex(("127.0.0.1", int(cluster.rsplit(":", 1)[1]))) != 0, "Dask scheduler left running"


def test_enrollment_runs_on_a_dask_cluster_started_by_hand(hand_started_cluster, faces_dev, settings, models, people,
                                                           tmp_path, monkeypatch):
    from distributed import Client

    from facelead.settings import Settings
    from flows.enroll_gallery import enroll_gallery
    from flows.runtime import dask_task_runner

    photos = _photos(faces_dev, tmp_path / "photos", people=4)
    address, _ = hand_started_cluster
    monkeypatch.setenv("FACELEAD_DASK__ADDRESS", address)
    monkeypatch.setenv("FACELEAD_DASK__IMAGES_PER_TASK", "2")
    summary = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_task_runner(Settings())),
                              source=str(tmp_path / "photos"), gallery="hand-started-cluster")
    assert summary.enrolled == photos == _faces(settings.database_path, "hand-started-cluster", models.recogniser.model_id)
    with Client(address) as client:
        executed = client.run(lambda dask_worker: dask_worker.state.transition_counter)
    assert len(executed) == 2 and all(count > 0 for count in executed.values()), executed


def _cli(args: list[str], user: str, secret: str, service: str) -> subprocess.Popen:
    env = {**os.environ, "FACELEAD_USER": user, "FACELEAD_TOKEN": secret, "FACELEAD_SERVICE__URL": service}
    return subprocess.Popen([sys.executable, "-m", "facelead.cli", *args], env=env, text=True,
                            stdout=subprocess.PIPE, stderr=subprocess.STDOUT)


def test_an_enrollment_and_a_search_at_the_same_time_both_complete_with_every_row(
        enrolled, people, approved, settings, service, models, faces_dev, tmp_path):
    photos = _photos(faces_dev, tmp_path / "photos", people=6)
    probe, _ = enrolled.probes[0]
    request = approved(probe, "OPS-CONCURRENT")
    enrollment = _cli(["enroll", str(tmp_path / "photos"), "--gallery", "concurrent"], "admin.test",
                      people["admin.test"], service)
    search = _cli(["search", request, "--k", "5"], "analyst.test", people["analyst.test"], service)
    enroll_out, _ = enrollment.communicate(timeout=400)
    search_out, _ = search.communicate(timeout=400)
    assert enrollment.returncode == 0, enroll_out[-3000:]
    assert search.returncode == 0, search_out[-3000:]
    assert _faces(settings.database_path, "concurrent", models.recogniser.model_id) == photos
    with db.open_db(settings.database_path, read_only=True) as conn:
        searches = conn.execute("SELECT count(*) FROM searches WHERE request_id = ?", [request]).fetchone()[0]
        candidates = conn.execute("SELECT count(*) FROM candidates JOIN searches USING (search_id) "
                                  "WHERE request_id = ?", [request]).fetchone()[0]
        verdict = chain.verify_audit(conn)
    assert searches == 1 and candidates == 5 and verdict.ok, verdict


def _enrolled_images(db_path: Path, gallery: str) -> tuple[int, int]:
    """(distinct images enrolled into ``gallery``, enrollment rows); equal unless duplicated."""
    with db.open_db(db_path, read_only=True) as conn:
        return conn.execute("SELECT count(DISTINCT f.image_sha256), count(*) FROM enrollments e "
                            "JOIN faces f USING (face_id) WHERE e.gallery_id = ?", [gallery]).fetchone()


def _api_process(settings, port: int) -> subprocess.Popen:
    """The API alone (`python -m facelead.service`) on ``port`` over the test data folder, in
    a process group of its own (with the Dask workers its flow runs start)."""
    env = {**os.environ, "FACELEAD_DATA_DIR": str(settings.data_dir), "FACELEAD_SERVICE__PORT": str(port),
           "FACELEAD_DASK__WORKERS": "1", "FACELEAD_DASK__IMAGES_PER_TASK": "2", "PREFECT_API_URL": api_url()}
    process = subprocess.Popen([sys.executable, "-m", "facelead.service"], env=env, start_new_session=True,
                               stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 120
    while time.monotonic() < deadline:
        with socket.socket() as sock:
            if sock.connect_ex(("127.0.0.1", port)) == 0:
                return process
        assert process.poll() is None, "the API process exited"
        time.sleep(0.5)
    raise AssertionError("the API did not start")


def test_a_service_killed_mid_enrollment_resumes_without_duplicating_a_row(people, settings, faces_dev, tmp_path):
    photos = distinct_copies(faces_dev, tmp_path / "photos", 120)
    command = ["enroll", str(tmp_path / "photos"), "--gallery", "killed"]
    port = _free_port()
    service = f"http://127.0.0.1:{port}"
    crashed = _api_process(settings, port)
    client = _cli(command, "admin.test", people["admin.test"], service)
    deadline = time.monotonic() + 300
    while _enrolled_images(settings.database_path, "killed")[0] == 0 and time.monotonic() < deadline:
        assert crashed.poll() is None and client.poll() is None, client.communicate()[0][-3000:]
        time.sleep(0.5)
    os.killpg(crashed.pid, signal.SIGKILL)  # the service, its flow run and its Dask workers, mid-run
    crashed.wait(30)
    assert client.wait(60) == 1 and "does not answer" in client.communicate()[0]
    committed, _ = _enrolled_images(settings.database_path, "killed")
    assert 0 < committed < photos
    again = _api_process(settings, port)
    try:
        rerun = _cli(command, "admin.test", people["admin.test"], service)
        output, _ = rerun.communicate(timeout=400)
    finally:
        os.killpg(again.pid, signal.SIGTERM)
        again.wait(60)
    assert rerun.returncode == 0, output[-3000:]
    assert _enrolled_images(settings.database_path, "killed") == (photos, photos)
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert chain.verify_audit(conn).ok


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium; CI does)")
def test_an_operator_starts_an_enrollment_in_the_prefect_ui_behind_facelead_s_sign_in(served, browser, faces_dev,
                                                                                    tmp_path):
    """In Chromium: the operator opens the Prefect UI on the facelead service, signs in to
    facelead as themselves, starts the enrollment deployment with its run form, watches the
    run complete and reads its artifacts; the audit log names the operator."""
    from fixtures import add_person

    process, _, data, log = served
    photos = _photos(faces_dev, tmp_path / "drop", people=2)
    _service_secret(data)  # serve has started its Prefect server
    umask = os.umask(0o077)
    add_person(data / "facelead.duckdb", None, "admin.ui", ["admin"], None)
    add_person(data / "facelead.duckdb", "admin.ui", "operator.ui", ["operator"], None)
    os.umask(umask)
    deadline = time.monotonic() + 240
    while "Worker '" not in log.read_text() and time.monotonic() < deadline:
        assert process.poll() is None, log.read_text()[-3000:]
        time.sleep(2)

    operator = Person(browser, process.service_url, "operator.ui", "secret of operator.ui", tmp_path)
    operator.open("/prefect/")  # the sign-in page first, then the console
    page = operator.page
    page.get_by_role("link", name="Deployments").click()
    page.get_by_role("link", name="enroll-gallery").first.click()
    page.get_by_role("button", name="Run").first.click()
    page.get_by_text("Custom run").click()
    page.get_by_role("tab", name="str").first.click()  # source: a text, not None
    page.get_by_role("tabpanel", name="str").first.get_by_role("textbox").fill(str(tmp_path / "drop"))
    page.get_by_role("textbox", name="gallery (Optional)").fill("ui")
    page.get_by_role("button", name="Submit").click()

    # the run just started, from the notice that says so; the deployment page also links
    # its scheduled runs, which are not this one
    page.get_by_text("View run").first.click(timeout=60_000)
    page.wait_for_url("**/runs/flow-run/**")
    page.get_by_text("Completed").first.wait_for(timeout=240_000)
    page.get_by_role("tab", name="Artifacts").click()
    page.get_by_text("enrollment-summary").first.wait_for(timeout=30_000)
    page.screenshot(path=tmp_path / "prefect-run.png")

    audit = _audit(data)
    assert [r.actor for r in audit if r.action == "console.run"] == ["operator.ui"]
    started = [r for r in audit if r.action == "enrollment.finish"]
    assert [r.actor for r in started] == ["operator.ui"] and json.loads(started[0].details)["enrolled"] == photos
    assert not [r for r in audit if r.action.endswith(".refused")], [r.action for r in audit]


def test_a_local_cluster_answers_health_checks_alone_on_its_http_ports(settings):
    """No dashboard: the info pages (logs, paths, call stacks of runs) and the JSON state of
    facelead's local cluster are not served to anyone who reaches its HTTP port."""
    import dask
    import httpx
    from distributed import LocalCluster
    from distributed.security import Security

    from flows.runtime import LOCAL_WORKER_CONFIG, dask_task_runner

    with dask.config.set(LOCAL_WORKER_CONFIG):
        kwargs = {**dask_task_runner(settings).cluster_kwargs, "n_workers": 1, "security": Security.temporary()}
        with LocalCluster(**kwargs) as cluster:
            port = cluster.scheduler.http_server.port
            answers = {path: httpx.get(f"http://127.0.0.1:{port}{path}", timeout=30).status_code
                       for path in ("/health", "/info/main/workers.html", "/info/main/logs.html", "/json/counts.json",
                                    "/info/call-stacks/x.html", "/metrics")}
    assert answers == {"/health": 200, "/info/main/workers.html": 404, "/info/main/logs.html": 404,
                       "/json/counts.json": 404, "/info/call-stacks/x.html": 404, "/metrics": 404}, answers


RUNS_ACCOUNT = "facelead-runs"


def _reachable(path: Path) -> bool:
    """Whether every account may pass through each folder down to ``path``."""
    return all(os.stat(part).st_mode & 0o001 for part in [*Path(path).parents][:-1])


def _runs_view(folder: Path) -> tuple[str, Path]:
    """An interpreter and a project folder every account may use: this environment's and
    this checkout where every account may reach them; else a virtual environment in
    ``folder`` over the host's own Python of this version, reading this environment's
    packages and this checkout's code, hard-linked into ``folder`` where their own folders
    are closed (a checkout's interpreter often lives in a home only its owner enters, a
    fresh clone in an owner-only temporary folder). ('', PROJECT) where the host has no
    such Python; OSError where a link cannot be made (another file system)."""
    version = f"python{sys.version_info.major}.{sys.version_info.minor}"
    site_packages, project = Path(sysconfig.get_paths()["purelib"]), PROJECT
    if _reachable(Path(os.path.realpath(sys.executable))) and _reachable(site_packages / "x") and _reachable(project / "x"):
        return sys.executable, project
    host = next((p for p in (Path("/usr/bin") / version, Path("/usr/local/bin") / version) if p.is_file()), None)
    if host is None:
        return "", project
    if not (_reachable(site_packages / "x") and _reachable(project / "x")):
        linked = folder / "linked"
        shutil.copytree(site_packages, linked / "site-packages", copy_function=os.link, symlinks=True)
        shutil.copytree(project, linked / "project", copy_function=os.link, symlinks=True,
                        ignore=shutil.ignore_patterns(".git", ".venv", "data", "__pycache__"))
        site_packages, project = linked / "site-packages", linked / "project"
    subprocess.run([str(host), "-m", "venv", "--without-pip", str(folder / "venv")], check=True)
    [site] = (folder / "venv" / "lib").glob("python*/site-packages")
    (site / "checkout.pth").write_text(f"import sys; sys.path.insert(0, {str(project)!r})\n"
                                       f"import site; site.addsitedir({str(site_packages)!r})\n")
    return str(folder / "venv" / "bin" / "python"), project


@pytest.fixture
def runs_account():
    """A lesser account for flow runs (made here, removed after, if the host had none), a
    folder it may enter and an interpreter it may run; skipped where the test is not root or
    the account cannot run this checkout's code."""
    if os.geteuid() != 0 or not shutil.which("useradd"):
        pytest.skip("making a second OS account for flow runs needs root and useradd")
    made = False
    try:
        pwd.getpwnam(RUNS_ACCOUNT)
    except KeyError:
        subprocess.run(["useradd", "--system", "--user-group", "--no-create-home", "--shell", "/usr/sbin/nologin",
                        RUNS_ACCOUNT], check=True)
        made = True
    entry = pwd.getpwnam(RUNS_ACCOUNT)
    folder = Path(tempfile.mkdtemp(prefix="facelead-runs-"))
    folder.chmod(0o755)
    umask = os.umask(0o022)  # what the test makes here (interpreter, photos) the account may read
    try:
        try:
            python, project = _runs_view(folder)
        except OSError as exc:
            pytest.skip(f"{RUNS_ACCOUNT} may not reach this checkout and it cannot be linked where it may: {exc}")
        if not python:
            pytest.skip(f"{RUNS_ACCOUNT} may not run this interpreter and the host has no Python of its version")
        reach = subprocess.run([python, "-c", "import flows.launch"], user=entry.pw_uid,
                               group=entry.pw_gid, extra_groups=[], cwd=project, capture_output=True, text=True,
                               env={**os.environ, "HOME": str(folder), "PREFECT_HOME": str(folder)})
        if reach.returncode:
            pytest.skip(f"{RUNS_ACCOUNT} cannot run this checkout's code: {reach.stderr[-300:]}")
        yield entry, folder, python, project
    finally:
        os.umask(umask)
        shutil.rmtree(folder, ignore_errors=True)
        if made:
            subprocess.run(["userdel", RUNS_ACCOUNT], check=False)


def _as_runs(entry, python: str, code: str, data: Path) -> subprocess.CompletedProcess:
    """``code`` run by the runs' account, as any code a flow run executes could be."""
    return subprocess.run([python, "-c", code], user=entry.pw_uid, group=entry.pw_gid, extra_groups=[],
                          umask=0o007, cwd=data.parent, capture_output=True, text=True,
                          env={**os.environ, "FACELEAD_DATA_DIR": str(data), "HOME": str(data / "runs"),
                               "PREFECT_HOME": str(data / "runs")})


RUN_CODE_ATTACKS = """
import json
from pathlib import Path
from facelead import grants
data = Path({data!r})
outcome = {{}}
for name in ("secrets/grant.key", "secrets/audit.key", "prefect/profiles.toml"):
    try:
        (data / name).read_bytes()
        outcome[name] = "read"
    except PermissionError:
        outcome[name] = "refused"
try:
    grants.read_key(data / "secrets" / "grant.key", create=False)
    outcome["mint"] = "key read"
except grants.GrantRefused as exc:
    outcome["mint"] = exc.reason
print(json.dumps(outcome))
"""


def _cmdline(pid: int) -> bytes:
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes()
    except OSError:
        return b""


def _uid(pid: int) -> int:
    return int(re.search(r"^Uid:\s+(\d+)", Path(f"/proc/{pid}/status").read_text(), re.MULTILINE)[1])


def test_flow_runs_under_a_lesser_account_read_no_key_and_their_audit_rows_join_the_chain(
        runs_account, faces_dev, models):
    """With service.run_user, serve's worker and its flow runs run as that account: an
    operator's enrollment from the console completes and is audited under their name, sealed
    into the chain by the service; code running as that account cannot read the grant key,
    the audit key or the server's secret, so it can neither mint a grant nor re-key a
    rewritten row; a keys' folder it swaps in is refused."""
    from facelead import grants

    from fixtures import add_person

    entry, folder, python, project = runs_account
    drop = folder / "drop"
    photos = _photos(faces_dev, drop, people=2)
    with _serving(folder, python, project, FACELEAD_SERVICE__RUN_USER=RUNS_ACCOUNT) as (process, api_url, data, log):
        deadline = time.monotonic() + 240
        while "facelead: API at" not in log.read_text():
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
            time.sleep(1)
        db_path = data / "facelead.duckdb"
        add_person(db_path, None, "admin.runs", ["admin"], None)
        add_person(db_path, "admin.runs", "operator.runs", ["operator"], None)
        operator = _web_session(process.service_url, "operator.runs", "secret of operator.runs")
        while not (deployments := {d["name"]: d for d in operator.post("/prefect/api/deployments/filter",
                                                                         json={}).json()}):
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
            time.sleep(2)
        while "Worker '" not in log.read_text():
            assert time.monotonic() < deadline and process.poll() is None, log.read_text()[-3000:]
            time.sleep(2)
        workers = [pid for pid in _descendants(process.pid) if b"worker\0start" in _cmdline(pid)]
        assert workers and {_uid(pid) for pid in workers} == {entry.pw_uid}

        started = operator.post(f"/prefect/api/deployments/{deployments['enroll-gallery']['id']}/create_flow_run",
                                json={"parameters": {"source": str(drop), "gallery": "runs"}})
        assert started.status_code == 201, started.text
        run = _wait_for_run_id(operator, started.json()["id"])
        assert run["state"]["type"] == "COMPLETED", (run["state"], log.read_text()[-3000:])
        assert _faces(db_path, "runs", models.recogniser.model_id) == photos
        deadline = time.monotonic() + 30
        while not [r for r in _audit(data) if r.action == "enrollment.finish"]:  # sealed when the run rang (each
            assert time.monotonic() < deadline, "the run's audit rows were not sealed into the chain"  # commit rings)
            time.sleep(1)
        assert [r.actor for r in _audit(data) if r.action == "enrollment.start"] == ["operator.runs"]
        with db.open_db(db_path) as conn:
            assert chain.verify_audit(conn).ok
            assert conn.execute("SELECT count(*) FROM audit_pending").fetchone()[0] == 0

        attacks = _as_runs(entry, python, RUN_CODE_ATTACKS.format(data=str(data)), data)
        assert attacks.returncode == 0, attacks.stderr
        assert json.loads(attacks.stdout) == {"secrets/grant.key": "refused", "secrets/audit.key": "refused",
                                              "prefect/profiles.toml": "refused", "mint": "no_grant_key"}
        rewrite = _as_runs(entry, python, "from warehouse import db\nfrom pathlib import Path\n"
                                  f"with db.open_db(Path({str(db_path)!r})) as conn:\n"
                                  "    conn.execute(\"UPDATE audit_log SET actor = 'admin.runs' "
                                  "WHERE action = 'enrollment.start'\")\n", data)
        assert rewrite.returncode == 0, rewrite.stderr  # the runs may write the database ...
        with db.open_db(db_path) as conn:
            assert "does not match its MAC" in chain.verify_audit(conn).reason  # ... but not re-key a row
        swap = _as_runs(entry, python, f"import os\nos.rename({str(data / 'secrets')!r}, {str(data / 'old-secrets')!r})\n"
                               f"os.mkdir({str(data / 'secrets')!r}, 0o700)\n"
                               f"open({str(data / 'secrets' / 'grant.key')!r}, 'wb').write(bytes(32))\n", data)
        assert swap.returncode == 0, swap.stderr  # the data folder is the runs' to write ...
        from facelead.files import ForeignKeyFolder

        with pytest.raises(ForeignKeyFolder):  # ... but the service takes no key from a folder it does not own
            grants.read_key(data / "secrets" / "grant.key", create=False)
        process.send_signal(signal.SIGINT)
        assert process.wait(120) == 0
