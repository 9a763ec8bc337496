"""The operators' console as rules: what passes the /prefect/ door, what the worker starts,
which runs act as a schedule, and how sign-in waits grow."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from facelead.access import sign_in_wait
from facelead.console import (
    DEPLOYMENTS,
    WORKING_DIRECTORY_STEP,
    ConsoleRefused,
    console_call,
    registered_refusal,
    run_body_refusal,
    run_refusal,
    scheduled_run,
)
from facelead.operations import locked_job_template

pytestmark = pytest.mark.unit

ID = "0b6e9a52-6f1c-4b1e-9a0e-2f5a7a1c3d4e"
ENROLL = DEPLOYMENTS["enroll-gallery"].entrypoint


def test_the_registered_deployments_are_prefect_yaml_s():
    project = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
    assert {d["name"]: d["entrypoint"] for d in project["deployments"]} == {
        name: registered.entrypoint for name, registered in DEPLOYMENTS.items()}
    assert all("job_variables" not in d.get("work_pool", {}) for d in project["deployments"])
    assert "pull" not in project


@pytest.mark.parametrize("method, path", [
    ("GET", "/"), ("GET", "/runs/flow-run/x"), ("GET", "/ui-settings"), ("GET", "/api/health"),
    ("GET", f"/api/flow_runs/{ID}"), ("POST", "/api/flow_runs/filter"), ("POST", "/api/logs/filter"),
    ("POST", "/api/artifacts/filter"), ("POST", "/api/deployments/filter"), ("POST", "/api/work_pools/filter"),
    ("POST", "/api/ui/flow_runs/history"), ("POST", "/api/ui/schemas/validate"), ("POST", "/api/flow_runs/count"),
    ("GET", "/api/admin/version"), ("GET", "/api/admin/settings"), ("GET", f"/api/automations/related-to/x.{ID}"),
    ("POST", "/api/automations/filter"),
])
def test_an_operator_reads_runs_logs_artifacts_deployments_and_pools(method, path):
    assert console_call(method, path, {}).kind == "read"


@pytest.mark.parametrize("method, path, body, reason", [
    ("POST", "/api/deployments/", {"name": "x", "entrypoint": "os.system"}, "console_call"),  # a new deployment
    ("PATCH", f"/api/deployments/{ID}", {"entrypoint": "os:system"}, "console_call"),  # a changed entrypoint
    ("PATCH", f"/api/deployments/{ID}", {"pull_steps": [{"prefect.deployments.steps.run_shell_script": {}}]},
     "console_call"),
    ("PATCH", "/api/work_pools/facelead", {"base_job_template": {}}, "console_call"),
    ("POST", "/api/work_pools/", {"name": "mine"}, "console_call"),
    ("POST", "/api/flow_runs/", {"flow_id": ID}, "console_call"),
    ("DELETE", f"/api/flow_runs/{ID}", None, "console_call"),
    ("GET", "/api/block_documents/x?include_secrets=true", None, "console_closed"),
    ("POST", "/api/block_documents/", {}, "console_closed"),
    ("POST", "/api/variables/", {"name": "v", "value": "x"}, "console_closed"),
    ("POST", "/api/variables/filter", {}, "console_closed"),
    ("POST", "/api/automations/", {"actions": [{"type": "run-deployment"}]}, "console_call"),
    ("PATCH", f"/api/automations/{ID}", {"enabled": True}, "console_call"),
    ("POST", "/api/admin/database/clear", None, "console_closed"),
    ("GET", "/api/admin/settings/../database", None, "console_path"),
    ("POST", "/api/work_pools/facelead/get_scheduled_flow_runs", {}, "console_closed"),
    ("POST", f"/api/flow_runs/{ID}/set_state", {"state": {"type": "COMPLETED"}}, "console_state"),
    ("POST", f"/api/flow_runs/{ID}/set_state", {"state": {"type": "CANCELLING"}, "x": 1}, "console_state"),
    ("PATCH", f"/api/deployments/{ID}/schedules/{ID}", {"active": False, "schedule": {"cron": "* * * * *"}},
     "console_schedule"),
    ("GET", "/api/../api/admin/settings", None, "console_path"),
    ("GET", "/api/%2e%2e/admin", None, "console_path"),
    ("POST", "/", {}, "console_call"),
])
def test_everything_else_is_refused_with_its_reason(method, path, body, reason):
    with pytest.raises(ConsoleRefused) as refused:
        console_call(method, path, body)
    assert refused.value.reason == reason


def test_runs_cancels_and_schedule_pauses_pass_as_what_they_are():
    assert console_call("POST", f"/api/deployments/{ID}/create_flow_run", {}).deployment_id == ID
    assert console_call("POST", f"/api/flow_runs/{ID}/set_state", {"state": {"type": "CANCELLING"}}).kind == "cancel"
    assert console_call("PATCH", f"/api/deployments/{ID}/schedules/{ID}", {"active": False}).kind == "schedule"
    assert console_call("POST", f"/api/deployments/{ID}/pause_deployment", None).kind == "schedule"


@pytest.mark.parametrize("body, reason", [
    ({"parameters": {}, "job_variables": {"command": "sh -c id"}}, "job_variables"),
    ({"parameters": {}, "job_variables": {"env": {"PYTHONPATH": "/tmp"}}}, "job_variables"),
    ({"parameters": {}, "work_queue_name": "other"}, "job_variables"),
    ({"parameters": {}, "empirical_policy": {"retries": 1000}}, "console_run"),
    ({"parameters": {}, "infrastructure_document_id": ID}, "console_run"),
    ({"parameters": {}, "state": {"type": "RUNNING"}}, "console_run"),
    ({"parameters": {"grant": "a grant of someone else's"}}, "console_run"),
    ({"parameters": "gallery=x"}, "console_run"),
])
def test_a_run_from_the_console_carries_parameters_alone(body, reason):
    assert run_body_refusal(body, "default").reason == reason


def test_the_run_form_s_own_body_passes():
    sent = {"name": "Sleek-Kakapo", "work_queue_name": "default", "empirical_policy": {
        "resuming": False, "max_retries": 0, "retry_delay_seconds": 0, "retries": 0, "retry_delay": 0},
        "state": {"type": "SCHEDULED", "state_details": {"pause_reschedule": False, "deferred": False,
                                                         "untrackable_result": False, "scheduled_time": None},
                  "message": ""}, "tags": ["facelead", "enrollment"], "job_variables": {},
        "enforce_parameter_schema": True,
        "parameters": {"gallery": "ops", "source_name": None, "quality_bar": None, "grant": None, "source": "/x"}}
    assert run_body_refusal(sent, "default") is None


def _deployment(name="enroll-gallery", entrypoint=ENROLL, pull_steps=None, job_variables=None) -> dict:
    return {"name": name, "entrypoint": entrypoint, "pull_steps": pull_steps, "job_variables": job_variables}


def test_the_worker_starts_only_registered_unchanged_deployments():
    steps = [{WORKING_DIRECTORY_STEP: {"directory": "/srv/facelead"}}]
    assert run_refusal(_deployment(pull_steps=steps, job_variables={}), {}, "/srv/facelead") is None
    assert run_refusal(_deployment(), None, "/srv/facelead") is None
    for (deployment, run_variables), reason in [
            ((_deployment(name="mine"), {}), "unregistered"),
            ((None, None), "unregistered"),
            ((_deployment(entrypoint="os.system"), {}), "entrypoint"),
            ((_deployment(pull_steps=[{"prefect.deployments.steps.run_shell_script": {"script": "id"}}]), {}),
             "pull_steps"),
            ((_deployment(job_variables={"command": "id"}), {}), "job_variables"),
            ((_deployment(), {"env": {"X": "1"}}), "job_variables"),
            ((_deployment(pull_steps=[{WORKING_DIRECTORY_STEP: {"directory": "/tmp/mine"}}]), {}), "pull_steps")]:
        assert run_refusal(deployment, run_variables, "/srv/facelead").reason == reason, deployment
    assert registered_refusal(_deployment(name="build-index")).reason == "entrypoint"


def test_the_pool_s_template_leaves_nothing_to_set():
    template = locked_job_template(Path("project"))
    assert template["variables"]["properties"] == {}
    assert template["job_configuration"]["command"].endswith("-m flows.launch")
    assert template["job_configuration"]["env"] == {}
    assert "{{" not in str(template)


def test_only_a_deployment_s_schedule_or_trigger_makes_a_run_that_needs_no_grant():
    assert scheduled_run(ID, True, None) and scheduled_run(ID, False, "AUTOMATION")
    assert not scheduled_run(ID, False, None)  # a person's run through the API
    assert not scheduled_run(None, True, None)


LIMITS = {"max_pair": 5, "max_address": 20, "base_s": 30.0, "window_s": 900.0}


def test_sign_in_waits_grow_for_one_name_from_one_address_only():
    assert sign_in_wait(4, 0, 4, **LIMITS) == 0
    assert sign_in_wait(5, 0, 5, **LIMITS) == 30
    assert sign_in_wait(5, 29, 5, **LIMITS) == pytest.approx(1)
    assert sign_in_wait(5, 31, 5, **LIMITS) == 0
    assert sign_in_wait(7, 0, 7, **LIMITS) == 120  # each failure past the limit doubles the wait
    assert sign_in_wait(30, 0, 19, **LIMITS) == 900  # at most the window
    assert sign_in_wait(0, 900, 20, **LIMITS) == 900  # an address failing for many names waits the window


def test_a_refusal_repeats_at_most_a_bounded_part_of_the_path():
    with pytest.raises(ConsoleRefused) as refused:
        console_call("POST", "/api/" + "x" * 60_000, {})
    assert len(refused.value.detail) < 400
