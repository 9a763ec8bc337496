"""A local Prefect server and a process worker for facelead, on loopback, offline, locked.

``facelead serve`` runs as the service account. It makes the data folder owner-only,
drops every secret-looking variable from its environment (children inherit none),
starts ``prefect server start`` bound to 127.0.0.1 behind basic authentication (a secret
made anew at every start and held by no person: the server, the worker and flow runs read
it from an owner-only Prefect profile), with its UI under ``/prefect`` and analytics and
promotional content off, waits until it answers, (re)makes the ``facelead`` process work
pool with a locked base job template (every run's command is ``flows.launch``,
which starts only runs of the registered deployments; no job variable changes the command,
environment or folder), optionally deploys ``prefect.yaml``, starts a TLS Dask
LocalCluster that every flow run shares (unless ``FACELEAD_DASK__ADDRESS`` names a cluster
already), then a worker on the pool and the HTTP API, which fronts the Prefect UI and API
for signed-in operators, and supervises them until interrupted.

With ``service.run_user``, the worker and every flow run it starts run as that lesser
account: ``serve`` shares the data folder with the account's group (setgid, group
read-write) but not the keys, its own Prefect home or the auditors' snapshots; runs check
grants with the public key and leave their audit rows for the service to seal, so no code a
run executes can read the grant key or the audit key. Started as root, ``serve`` starts the
worker as that account itself; started as the service account, through ``sudo -n -u``.
"""

from __future__ import annotations

import json
import os
import pwd
import re
import secrets
import shlex
import signal
import subprocess
import sys
import threading
import time
import urllib.request
from dataclasses import dataclass
from pathlib import Path

from facelead import grants
from facelead.console import PREFIX
from facelead.files import write_private
from facelead.settings import Settings
from warehouse import db

WORK_POOL = "facelead"


@dataclass(frozen=True)
class LocalServer:
    """Where the local server listens and keeps its own state."""

    host: str
    port: int
    home: Path

    @property
    def api_url(self) -> str:
        return f"http://{self.host}:{self.port}/api"

    @property
    def ui_url(self) -> str:
        return f"http://{self.host}:{self.port}"


# Variables a child must never inherit: credentials travel in owner-only files instead.
SECRET_NAME = re.compile(r"TOKEN|SECRET|PASSWORD|PASSWD|AUTH_STRING|CREDENTIAL|PRIVATE_KEY", re.IGNORECASE)
SERVICE_USER = "facelead"


def service_secret() -> str:
    """The Prefect server's basic-auth ``user:password`` for this start: made now, held by
    the service alone (no person signs in to Prefect; people come through ``/prefect/``)."""
    return f"{SERVICE_USER}:{secrets.token_urlsafe(32)}"


# The worker hands every flow run its own Prefect settings as environment variables, the
# server's secret among them: the run's process starts without them and reads the secret
# from the owner-only profile instead, so no flow run's environment carries it.
SCRUBBED = ("PREFECT_API_AUTH_STRING", "PREFECT_SERVER_API_AUTH_STRING", "PREFECT_API_KEY")


def locked_job_template(project: Path) -> dict:
    """The work pool's base job template: no variables a run or deployment could set, the
    command ``flows.launch`` of this interpreter started without the server's
    secret in its environment, no extra environment, the project as the working folder."""
    scrub = " ".join(f"-u {name}" for name in SCRUBBED)
    return {"variables": {"type": "object", "properties": {}},
            "job_configuration": {"command": f"env {scrub} {shlex.quote(sys.executable)} -m flows.launch", "env": {},
                                  "stream_output": True, "working_dir": str(project.absolute())}}


@dataclass(frozen=True)
class RunAccount:
    """The lesser OS account the worker and its flow runs use (``service.run_user``)."""

    name: str
    uid: int
    gid: int


# What of the data folder the runs' account never enters: the keys and the anchor log, the
# service's Prefect home (the server's secret) and the auditors' snapshots.
SERVICE_ONLY = ("secrets", "prefect", "audit")
RUNS_HOME = "runs"  # the runs' account's home and Prefect home, in the data folder


def run_account(name: str) -> RunAccount:
    """The account called ``name``; ValueError unless it exists and is neither root nor the
    account ``serve`` runs as."""
    try:
        entry = pwd.getpwnam(name)
    except KeyError:
        raise ValueError(f"service.run_user {name!r}: no such account on this host (create it with "
                         f"`useradd --system --user-group --no-create-home {name}`)") from None
    if entry.pw_uid in (0, os.geteuid()):
        raise ValueError(f"service.run_user {name!r} must be a lesser account: neither root nor the account "
                         f"serve runs as")
    return RunAccount(name, entry.pw_uid, entry.pw_gid)


def share_data(settings: Settings, account: RunAccount) -> Path:
    """Give ``account``'s group the data folder, setgid and group read-write, all but
    ``SERVICE_ONLY`` (made or kept owner-only); return the runs' home in it."""
    data = settings.data_dir
    for name in SERVICE_ONLY:
        (data / name).mkdir(mode=0o700, exist_ok=True)
        (data / name).chmod(0o700)
    (data / RUNS_HOME).mkdir(exist_ok=True)
    os.chown(data, -1, account.gid)
    data.chmod(0o2770)
    for entry in data.iterdir():
        if entry.name in SERVICE_ONLY:
            continue
        for root, folders, files in os.walk(entry) if entry.is_dir() else [(str(data), [], [entry.name])]:
            for name in folders:
                os.chown(os.path.join(root, name), -1, account.gid)
                os.chmod(os.path.join(root, name), 0o2770)
            for name in files:
                path = os.path.join(root, name)
                if not os.path.islink(path):
                    owner = os.stat(path).st_mode & 0o700
                    os.chown(path, -1, account.gid)
                    os.chmod(path, owner | owner >> 3)  # the group as the owner, others nothing
        if entry.is_dir():
            os.chown(entry, -1, account.gid)
            entry.chmod(0o2770)
    return data / RUNS_HOME


def as_account(argv: list[str], env: dict[str, str], account: RunAccount, euid: int) -> dict:
    """``subprocess.Popen`` arguments that start ``argv`` with ``env`` as ``account`` (umask
    007, no other groups): directly where ``euid`` is root, else through ``sudo -n -u`` (a
    sudoers rule lets the service account start commands as that account)."""
    if euid == 0:
        return {"args": argv, "env": env, "user": account.uid, "group": account.gid, "extra_groups": [],
                "umask": 0o007}
    assignments = [f"{name}={value}" for name, value in env.items()]
    return {"args": ["sudo", "-n", "-u", account.name, "--", "env", "-i", *assignments,
                     "sh", "-c", 'umask 007 && exec "$@"', "sh", *argv]}


def runs_env(env: dict[str, str], home: Path, settings: Settings) -> dict[str, str]:
    """``env`` for the worker under the runs' account: its own home and Prefect home, and the
    public key that checks grants (the private key stays the service's)."""
    public = grants.public_key(grants.read_key(settings.grant_key_path, create=True)).hex()
    kept = {name: value for name, value in env.items() if name not in ("HOME", "USER", "LOGNAME", "MAIL")}
    return {**kept, "HOME": str(home.absolute()), "PREFECT_HOME": str(home.absolute()),
            "FACELEAD_SECURITY__GRANT_PUBLIC_KEY": public}


def write_profile(server: LocalServer, auth: str) -> None:
    """An owner-only Prefect profile in the server's home that gives the server its basic
    auth and every client (worker, flow runs, the deploy command) the matching credential."""
    write_private(server.home / "profiles.toml", "\n".join([
        'active = "facelead"', "", "[profiles.facelead]",
        f"PREFECT_SERVER_API_AUTH_STRING = {auth!r}", f"PREFECT_API_AUTH_STRING = {auth!r}", ""]))


def local_server(settings: Settings, port: int) -> LocalServer:
    """The server for ``settings``: loopback, its database under ``<data>/prefect``."""
    return LocalServer("127.0.0.1", port, (settings.data_dir / "prefect").absolute())


def prefect_env(server: LocalServer, base: dict[str, str]) -> dict[str, str]:
    """``base`` plus what the server, the worker and every flow run need: the API URL, the
    server's home and bind address, and nothing that reaches the internet."""
    return {
        **base,
        "PREFECT_HOME": str(server.home),
        "PREFECT_PROFILE": "facelead",
        "PREFECT_API_URL": server.api_url,
        "PREFECT_UI_API_URL": server.api_url,
        "PREFECT_UI_SERVE_BASE": PREFIX,
        "PREFECT_SERVER_API_HOST": server.host,
        "PREFECT_SERVER_API_PORT": str(server.port),
        "PREFECT_SERVER_ANALYTICS_ENABLED": "false",
        "PREFECT_SERVER_UI_SHOW_PROMOTIONAL_CONTENT": "false",
        "DO_NOT_TRACK": "1",
        "GX_ANALYTICS_ENABLED": "false",
    }


def prefect_command(*args: str) -> list[str]:
    """The ``prefect`` CLI of this interpreter's environment."""
    return [sys.executable, "-m", "prefect", *args]


def wait_until_healthy(server: LocalServer, process: subprocess.Popen, timeout_s: float) -> None:
    """Return once ``/api/health`` answers; raise if the server exits or ``timeout_s`` passes."""
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if process.poll() is not None:
            raise RuntimeError(f"the Prefect server exited with code {process.returncode}; see its log above")
        try:
            with urllib.request.urlopen(f"{server.api_url}/health", timeout=2) as response:
                if response.status == 200:
                    return
        except OSError:
            pass
        time.sleep(0.5)
    raise TimeoutError(f"the Prefect server at {server.api_url} did not answer within {timeout_s:.0f}s")


def lock_work_pool(env: dict[str, str], project: Path) -> None:
    """Make the ``facelead`` process work pool, or remake an existing one, with
    ``locked_job_template``: whatever a pool held before, this start's template is the one in force."""
    template = write_private(Path(env["PREFECT_HOME"]) / "job-template.json", json.dumps(locked_job_template(project)))
    subprocess.run(prefect_command("work-pool", "create", WORK_POOL, "--type", "process", "--base-job-template",
                                   str(template), "--overwrite"), env=env, check=True, capture_output=True, text=True)


def deploy_all(env: dict[str, str], project: Path) -> None:
    """``prefect --no-prompt deploy --all`` from ``project`` (the folder holding prefect.yaml)."""
    if not (project / "prefect.yaml").is_file():
        raise FileNotFoundError(f"{project}: no prefect.yaml here; pass --project with the facelead source folder")
    subprocess.run(prefect_command("--no-prompt", "deploy", "--all"), cwd=project, env=env, check=True)


def shared_cluster(settings: Settings, server: LocalServer):
    """A TLS LocalCluster (``settings`` name no cluster address) for every flow run of
    ``server``: its workers keep the models and index shards loaded between runs, and
    report task runs to ``server``. Its certificates are made now; the client's are
    written owner-only to ``<secrets>/dask`` for flow runs to present."""
    import dask
    from distributed import LocalCluster
    from distributed.security import Security

    from facelead.cluster import write_tls_files
    from flows.runtime import LOCAL_WORKER_CONFIG, dask_task_runner

    dask.config.set(LOCAL_WORKER_CONFIG)
    security = Security.temporary()
    write_tls_files(security, settings.secrets_dir / "dask")
    return LocalCluster(**{**dask_task_runner(settings).cluster_kwargs, "security": security})


def serve(settings: Settings, port: int, deploy: bool, project: Path, worker_limit: int,
          startup_timeout_s: float = 180.0) -> int:
    """Run the Prefect server, a shared Dask cluster, a worker and the HTTP API until SIGINT or
    SIGTERM, or until the server or the worker exits; return an exit code."""
    settings.data_dir.mkdir(mode=0o700, parents=True, exist_ok=True)
    settings.data_dir.chmod(0o700)
    account = run_account(settings.service.run_user) if settings.service.run_user else None
    if account is not None:
        os.umask(0o007)  # what the service writes in the shared folder, the runs may use, and back
        runs_home = share_data(settings, account)
    for name in [name for name in os.environ if SECRET_NAME.search(name)]:
        del os.environ[name]  # nothing serve starts, Dask workers included, inherits a credential
    server = local_server(settings, port)
    server.home.mkdir(mode=0o700, parents=True, exist_ok=True)
    (settings.secrets_dir / "prefect-console").unlink(missing_ok=True)  # a shared console secret of old: void
    auth = service_secret()
    write_profile(server, auth)
    # Before anything here imports Prefect: this process (its API's flow runs, the Dask
    # workers it starts) talks to the local server like every child does.
    os.environ.update(prefect_env(server, {}))
    env = dict(os.environ)
    processes: list[subprocess.Popen] = []
    cluster = api = None
    sealing = threading.Event()

    def stop(*_):
        raise KeyboardInterrupt

    # Installed, not inherited: a shell's background job starts with SIGINT ignored, and
    # the children started below then get the default handling back.
    previous = {sig: signal.signal(sig, stop) for sig in (signal.SIGINT, signal.SIGTERM)}
    try:
        processes.append(subprocess.Popen(
            prefect_command("server", "start", "--host", server.host, "--port", str(server.port)), env=env))
        wait_until_healthy(server, processes[0], startup_timeout_s)
        lock_work_pool(env, project)
        if deploy:
            deploy_all(env, project)
        if not settings.dask.address and account is None:  # a run's cluster runs as the run's account
            cluster = shared_cluster(settings, server)
            shared = {"address": cluster.scheduler_address, "tls_dir": (settings.secrets_dir / "dask").absolute()}
            settings = settings.replaced(dask=shared)  # the API's flow runs use it
            env.update({f"FACELEAD_DASK__{name.upper()}": str(value) for name, value in shared.items()})  # the worker's
            print(f"facelead: Dask cluster for flow runs at {cluster.scheduler_address} "
                  f"({settings.dask.workers} worker processes)", flush=True)
        worker = prefect_command("worker", "start", "--pool", WORK_POOL, "--type", "process",
                                 "--limit", str(worker_limit))
        if account is None:
            processes.append(subprocess.Popen(worker, env=env, cwd=project))
        else:
            write_profile(LocalServer(server.host, server.port, runs_home), auth)
            processes.append(subprocess.Popen(**as_account(worker, runs_env(env, runs_home, settings), account,
                                                           os.geteuid()), cwd=project))
            threading.Thread(target=db.seal_when_rung, args=(settings.database_path, sealing),
                             name="audit-sealer", daemon=True).start()
        from facelead.service import start_api, stop_api
        from facelead.web.console_door import Upstream

        api = start_api(settings, console=Upstream(server.ui_url, auth))
        print(f"facelead: API at {settings.service.base_url} (facelead login); "
              f"Prefect UI at {settings.service.base_url}{PREFIX}/ (signed in to facelead as an operator or admin); "
              f"worker on pool {WORK_POOL!r}.", flush=True)
        while all(p.poll() is None for p in processes):
            time.sleep(1)
        return next(p.returncode for p in processes if p.returncode is not None) or 1
    except KeyboardInterrupt:
        return 0
    finally:
        for sig, handler in previous.items():
            signal.signal(sig, handler)
        sealing.set()
        if api is not None:
            stop_api(*api)
        stop_all(processes)
        if cluster is not None:
            cluster.close()


def stop_all(processes: list[subprocess.Popen], grace_s: float = 15.0) -> None:
    """Ask every process to stop at once (SIGTERM), give them ``grace_s`` together, then kill."""
    alive = [p for p in processes if p.poll() is None]
    for process in alive:
        process.terminate()
    deadline = time.monotonic() + grace_s
    for process in alive:
        try:
            process.wait(max(0.1, deadline - time.monotonic()))
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()



def serve_demo_pages(port: int) -> None:
    """The web pages over the demo's database on 127.0.0.1:``port`` in the foreground until
    Ctrl-C, after printing a fresh secret for each demo person. Searches run in this
    process, as the demo's did (no Prefect server, no deployments)."""
    import uvicorn

    from facelead.service import create_app
    from flows.demo import DEMO_PEOPLE, demo_secrets, demo_settings

    settings = demo_settings(Settings()).replaced(service={"port": port})
    app = create_app(settings)  # built before its address is printed: whoever reads it may stop it at once
    chosen = demo_secrets(settings.database_path, settings.security)
    print("\nsign in as each person in turn (new secrets each time the demo serves its pages):")
    for user_id, (_, does) in DEMO_PEOPLE.items():
        print(f"  {user_id:<16} {chosen[user_id]}   {does}")
    print(f"the probe to upload: {(settings.database_path.parent / 'probe_degraded.jpg')}")
    print(f"facelead demo pages at http://127.0.0.1:{port}/ (Ctrl-C stops them)", flush=True)
    uvicorn.run(app, host="127.0.0.1", port=port, log_level="warning", **settings.service.uvicorn_options())
