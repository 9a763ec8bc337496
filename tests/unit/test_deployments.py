"""prefect.yaml against the flows it deploys, and the pure parts of operating facelead."""

from __future__ import annotations

import importlib
from datetime import date
from pathlib import Path
from types import SimpleNamespace

import pytest
import yaml

from facelead.console import entrypoint_module
from facelead.operations import LocalServer, prefect_env
from facelead.refusal import Refusal
from tasks.oversight import COLUMNS, markdown, previous_month, total
from tasks.persist import retry_if_transient
from warehouse.db import TransientDbError

PROJECT = yaml.safe_load((Path(__file__).resolve().parents[2] / "prefect.yaml").read_text())
DEPLOYMENTS = {d["name"]: d for d in PROJECT["deployments"]}


def _flow(deployment: dict):
    module, name = entrypoint_module(deployment["entrypoint"])
    return getattr(importlib.import_module(module), name)


def test_every_flow_an_operator_runs_is_deployed():
    assert set(DEPLOYMENTS) == {"enroll-gallery", "build-index", "calibrate-gallery", "search-probe", "rerun-search",
                                "retention-purge", "oversight-report", "evaluate"}


@pytest.mark.parametrize("name", sorted(DEPLOYMENTS))
def test_every_parameter_is_described_for_the_run_form(name):
    schema = _flow(DEPLOYMENTS[name]).parameters.model_dump()
    undescribed = [p for p, spec in schema["properties"].items() if not spec.get("description")]
    assert not undescribed, f"{name}: describe {undescribed} in the flow docstring's Args section"


@pytest.mark.parametrize("name", sorted(n for n, d in DEPLOYMENTS.items() if d.get("schedules") or d.get("triggers")))
def test_unattended_runs_need_no_parameter_nobody_gives(name):
    deployment = DEPLOYMENTS[name]
    given = set(deployment.get("parameters", {})) | {k for t in deployment.get("triggers", []) for k in t.get("parameters", {})}
    missing = set(_flow(deployment).parameters.required) - given
    assert not missing, f"{name} runs on a schedule or trigger but requires {missing}"


def test_nightly_enrollment_purge_and_rebuild_and_a_monthly_report_are_scheduled():
    crons = {name: [s["cron"] for s in d.get("schedules", [])] for name, d in DEPLOYMENTS.items()}
    assert crons["enroll-gallery"] == ["0 1 * * *"] and crons["retention-purge"] == ["0 2 * * *"]
    assert crons["build-index"] == ["30 3 * * *"] and crons["oversight-report"] == ["0 6 1 * *"]
    assert not crons["search-probe"] and not crons["rerun-search"] and not crons["evaluate"]
    [trigger] = DEPLOYMENTS["build-index"]["triggers"]
    assert trigger["expect"] == ["facelead.enrollment.completed"]


def test_writers_that_must_not_overlap_run_one_at_a_time():
    assert all(DEPLOYMENTS[name]["concurrency_limit"] == 1 for name in ("enroll-gallery", "build-index", "retention-purge"))


@pytest.mark.parametrize("today, period", [
    (date(2026, 3, 15), (date(2026, 2, 1), date(2026, 3, 1))),
    (date(2026, 1, 1), (date(2025, 12, 1), date(2026, 1, 1))),
])
def test_the_monthly_report_covers_the_previous_calendar_month(today, period):
    assert previous_month(today) == period


def test_the_report_adds_every_offense_code_up_and_an_empty_period_to_zero():
    from warehouse.records import OversightRow

    rows = [OversightRow("homicide", 3, 2, 1, 0, 2, 1, 1, 0, 1, 0), OversightRow("robbery", 1, 1, 0, 0, 1, 0, 0, 0, 0, 1)]
    assert total(rows) == OversightRow("**all**", 4, 3, 1, 0, 3, 1, 1, 0, 1, 1)
    assert total([]) == OversightRow("**all**", *[0] * (len(COLUMNS) - 1))
    table = markdown(rows, date(2026, 11, 1), date(2026, 12, 1)).splitlines()
    assert table[2] == "| " + " | ".join(COLUMNS) + " |" and table[-3] == "| **all** | 4 | 3 | 1 | 0 | 3 | 1 | 1 | 0 | 1 | 1 |"


def test_the_local_server_is_loopback_offline_and_keeps_its_state_in_the_data_folder(tmp_path):
    server = LocalServer("127.0.0.1", 4300, tmp_path / "prefect")
    env = prefect_env(server, {"PATH": "/bin", "PREFECT_SERVER_ANALYTICS_ENABLED": "true"})
    assert env["PREFECT_API_URL"] == "http://127.0.0.1:4300/api" and env["PREFECT_SERVER_API_HOST"] == "127.0.0.1"
    assert env["PREFECT_SERVER_ANALYTICS_ENABLED"] == "false" and env["DO_NOT_TRACK"] == "1"
    assert env["PREFECT_HOME"] == str(tmp_path / "prefect") and env["PATH"] == "/bin"


def _state(exc: BaseException):
    def result():
        raise exc
    return SimpleNamespace(result=result)


def test_a_locked_database_is_retried_and_a_refusal_is_not():
    assert retry_if_transient(None, None, _state(TransientDbError("locked"))) is True
    assert retry_if_transient(None, None, _state(Refusal("bad_input", "no"))) is False
    assert retry_if_transient(None, None, _state(ValueError("bad manifest"))) is False
