"""The operators' Prefect console, as rules: which deployments facelead registers, which
calls of the Prefect API an operator may make through facelead, and which flow runs the
worker may start. Pure functions over what the call or the run says; no I/O.

The Prefect server answers only facelead (loopback, a secret no person holds); the
service's ``/prefect/`` door asks ``console_call`` of every call a person sends, and the
worker's launcher asks ``run_refusal`` of every run before any of its code is loaded.
"""

from __future__ import annotations

import os
import re
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from facelead.access import AccessDenied
from facelead.policy import Action

PREFIX = "/prefect"  # where the service fronts the Prefect UI; its API is PREFIX + "/api"
MAX_BODY_BYTES = 256 * 1024  # a console call's body: filters and run parameters are small
SHOWN_PATH = 200  # characters of a refused call's path kept in its refusal and audit row


@dataclass(frozen=True)
class Registered:
    """A deployment ``facelead serve --deploy`` registers: its flow and what a run of it does."""

    entrypoint: str
    action: Action


def entrypoint_module(entrypoint: str) -> tuple[str, str]:
    """The module and attribute a ``flows/<file>.py:<flow>`` entrypoint names."""
    path, _, attribute = entrypoint.partition(":")
    return path.removesuffix(".py").replace("/", "."), attribute


# The one list of deployments, held to prefect.yaml by a unit test.
DEPLOYMENTS: dict[str, Registered] = {
    "enroll-gallery": Registered("flows/enroll_gallery.py:enroll_gallery", Action.ENROLL),
    "build-index": Registered("flows/build_index.py:build_index", Action.BUILD),
    "calibrate-gallery": Registered("flows/calibrate_gallery.py:calibrate", Action.CALIBRATE),
    "search-probe": Registered("flows/search_probe.py:search_probe", Action.SEARCH),
    "rerun-search": Registered("flows/rerun_search.py:rerun_search", Action.RERUN),
    "evaluate": Registered("flows/evaluate.py:evaluate", Action.EVALUATE),
    "retention-purge": Registered("flows/retention_purge.py:retention_purge", Action.PURGE),
    "oversight-report": Registered("flows/oversight_report.py:oversight_report", Action.REPORT),
}


class ConsoleRefused(AccessDenied):
    """A console call or a flow run that facelead does not let through."""


@dataclass(frozen=True)
class ConsoleCall:
    """What a call through the console does once allowed: ``kind`` is 'read', 'run' (start a
    run of ``deployment_id``), 'cancel' (of ``flow_run_id``) or 'schedule' (pause or resume)."""

    kind: str
    upstream_path: str
    deployment_id: str | None = None
    flow_run_id: str | None = None


_ID = r"[0-9a-fA-F-]{36}"
_CLOSED = re.compile(r"/api/(admin|block_documents|block_schemas|block_types|block_capabilities|variables|"
                     r"work_pools/[^/]+/get_scheduled_flow_runs)(/|$)")
# The server's version and settings (its secrets shown as stars), which the UI reads on every page.
_ADMIN_READS = re.compile(r"/api/admin/(version|settings)")
# Reads that Prefect's UI sends as POST: filters, counts, pages, histories, validation of a form.
_POST_READ = re.compile(r"/api/.*/(filter|count|paginate|history|count-deployments|next-runs|counts|"
                        r"count-task-runs|lateness|average_lateness|validate|count-by/[a-z_]+)$")
_CREATE_RUN = re.compile(rf"/api/deployments/({_ID})/create_flow_run")
_SET_STATE = re.compile(rf"/api/flow_runs/({_ID})/set_state")
_SCHEDULE = re.compile(rf"/api/deployments/({_ID})/schedules/({_ID})")
_PAUSE = re.compile(rf"/api/deployments/({_ID})/(pause_deployment|resume_deployment)")
# The one pull step ``prefect deploy`` adds by itself; it changes folder and runs nothing.
WORKING_DIRECTORY_STEP = "prefect.deployments.steps.set_working_directory"
_RUN_KEYS = frozenset({"state", "name", "parameters", "enforce_parameter_schema", "tags", "idempotency_key",
                       "job_variables", "context", "work_queue_name", "empirical_policy"})


def _empty(value: Any) -> bool:
    return value in (None, {}, [], "")


def shown(path: str) -> str:
    """A path as a refusal or an audit row may repeat it: at most ``SHOWN_PATH`` characters."""
    return path if len(path) <= SHOWN_PATH else path[:SHOWN_PATH - 1] + "…"


def console_call(method: str, path: str, body: Any) -> ConsoleCall:
    """What a person's call ``method path`` (below ``PREFIX``) with JSON ``body`` does, if an
    operator may make it; else ConsoleRefused saying why (the path cut to ``SHOWN_PATH``).
    The UI's own files are reads."""
    method, path_shown = method.upper()[:10], shown(path)
    if ".." in path or "//" in path or "\\" in path or "%" in path:
        raise ConsoleRefused("console_path", f"{path_shown!r} is not a path of the console")
    if not path.startswith("/api/"):
        if method != "GET":
            raise ConsoleRefused("console_call", f"{method} {path_shown}: the console's pages are read only")
        return ConsoleCall("read", PREFIX + path)
    if method == "GET" and _ADMIN_READS.fullmatch(path):
        return ConsoleCall("read", path)
    if _CLOSED.match(path):
        raise ConsoleRefused("console_closed", f"{method} {path_shown}: blocks, variables and the server's administration "
                                        "are not open through the console")
    if method == "GET" or (method == "POST" and _POST_READ.match(path)):
        return ConsoleCall("read", path)
    if method == "POST" and (found := _CREATE_RUN.fullmatch(path)):
        return ConsoleCall("run", path, deployment_id=found[1])
    if method == "POST" and (found := _SET_STATE.fullmatch(path)):
        state = body.get("state") if isinstance(body, Mapping) else None
        if not isinstance(state, Mapping) or state.get("type") != "CANCELLING" or set(body) - {"state", "force"}:
            raise ConsoleRefused("console_state", "a run's state may only be set to Cancelling through the console")
        return ConsoleCall("cancel", path, flow_run_id=found[1])
    if method == "PATCH" and (found := _SCHEDULE.fullmatch(path)):
        if not isinstance(body, Mapping) or set(body) != {"active"} or not isinstance(body["active"], bool):
            raise ConsoleRefused("console_schedule", "a schedule may only be paused or resumed ({'active': true|false})")
        return ConsoleCall("schedule", path, deployment_id=found[1])
    if method == "POST" and (found := _PAUSE.fullmatch(path)) and _empty(body):
        return ConsoleCall("schedule", path, deployment_id=found[1])
    raise ConsoleRefused("console_call", f"{method} {path_shown}: not a call an operator makes (operators read runs, start "
                                  "registered deployments with parameters, cancel runs and pause schedules)")


def run_body_refusal(body: Any, queue: str | None) -> ConsoleRefused | None:
    """None if ``body`` starts a run with parameters only: no job variables or context, the
    deployment's own work ``queue``, no retry policy, a state no other than Scheduled and
    no grant of its own (Prefect's run form sends the empty ones); else the refusal."""
    if not isinstance(body, Mapping) or not isinstance(body.get("parameters", {}), Mapping):
        return ConsoleRefused("console_run", "a run's body is a JSON object with its parameters")
    unknown = sorted(set(body) - _RUN_KEYS)
    if unknown:
        return ConsoleRefused("console_run", f"a run started from the console may not set {', '.join(unknown)}")
    changed = [name for name in ("job_variables", "context") if not _empty(body.get(name))]
    if body.get("work_queue_name") not in (None, "", queue):
        changed.append("work_queue_name")
    if changed:
        return ConsoleRefused("job_variables", f"a run started from the console may not set {', '.join(changed)}: "
                                        "facelead's flows run only as registered")
    policy = body.get("empirical_policy")
    if policy is not None and (not isinstance(policy, Mapping) or any(policy.values())):
        return ConsoleRefused("console_run", "a run started from the console keeps its flow's own retry policy")
    state = body.get("state")
    if state is not None and (not isinstance(state, Mapping) or state.get("type") not in (None, "SCHEDULED")):
        return ConsoleRefused("console_run", "a run started from the console starts Scheduled")
    if not _empty(body.get("parameters", {}).get("grant")):
        return ConsoleRefused("console_run", "the console adds the run's grant itself")
    return None


def registered_refusal(deployment: Mapping[str, Any]) -> ConsoleRefused | None:
    """None if ``deployment`` (as the Prefect API gives it) is one facelead registers,
    unchanged (its flow, no pull step but a change of folder, no job variables); else the
    refusal."""
    name, entrypoint = deployment.get("name"), deployment.get("entrypoint")
    pull_steps, job_variables = deployment.get("pull_steps"), deployment.get("job_variables")
    registered = DEPLOYMENTS.get(name)
    if registered is None:
        return ConsoleRefused("unregistered", f"deployment {name!r} is not one facelead registers")
    if entrypoint != registered.entrypoint:
        return ConsoleRefused("entrypoint", f"deployment {name!r} runs {entrypoint!r}, not {registered.entrypoint!r}")
    if not _empty(pull_steps) and (not isinstance(pull_steps, list) or any(
            not isinstance(step, Mapping) or set(step) != {WORKING_DIRECTORY_STEP} for step in pull_steps)):
        return ConsoleRefused("pull_steps", f"deployment {name!r} has pull steps beyond setting its working folder; "
                                            "only facelead's own flows run")
    if not _empty(job_variables):
        return ConsoleRefused("job_variables", f"deployment {name!r} sets job variables {sorted(job_variables)}")
    return None


def run_refusal(deployment: Mapping[str, Any] | None, run_job_variables: Any, project: str) -> ConsoleRefused | None:
    """None if the worker may start a flow run of ``deployment`` with ``run_job_variables``:
    a registered, unchanged deployment whose working folder (where its ``flows/<file>.py`` is
    read) is ``project``, facelead's own, and no job variables of the run's own; else the refusal."""
    if deployment is None:
        return ConsoleRefused("unregistered", "a flow run without a deployment is not started by facelead's worker")
    refusal = registered_refusal(deployment)
    if refusal is not None:
        return refusal
    if not _empty(run_job_variables):
        return ConsoleRefused("job_variables", f"the run sets job variables {sorted(run_job_variables)}")
    folders = {os.path.realpath(str(step[WORKING_DIRECTORY_STEP].get("directory")))
               if isinstance(step[WORKING_DIRECTORY_STEP], Mapping) else "?"
               for step in deployment.get("pull_steps") or []}
    if folders - {project}:
        return ConsoleRefused("pull_steps", f"the run would read its flow from {sorted(folders - {project})}, "
                                            f"not facelead's folder {project}")
    return None


def scheduled_run(deployment_id: Any, auto_scheduled: bool, created_by_type: str | None) -> bool:
    """Whether a run carrying no grant is one of its deployment's own: made by the
    deployment's schedule or by its trigger (an automation), never by a person."""
    return bool(deployment_id) and (auto_scheduled or created_by_type == "AUTOMATION")
