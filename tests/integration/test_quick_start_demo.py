"""The quick start's demo, as a new user runs it: the right person first, a calibrated
sheet, nothing in the data folder readable by anyone but its owner; then, as the README
walks a newcomer through it, its pages carry a request of their own to a released lead."""

from __future__ import annotations

import os
import re
import signal
import subprocess
import sys
import threading
import time
from dataclasses import dataclass
from pathlib import Path

import pytest
from pages import CHROMIUM, Person, browser  # noqa: F401 (browser: a fixture)

from fixtures import free_port

SERVING = "facelead demo pages at "


@dataclass(frozen=True)
class DemoSite:
    url: str
    output: list[str]
    secrets: dict[str, str]
    probe: Path
    data: Path


@pytest.fixture(scope="module")
def demo(tmp_path_factory):
    """``facelead demo --web`` in a fresh data folder, as the README runs it; stopped with Ctrl-C."""
    data = tmp_path_factory.mktemp("quick-start") / "data"
    env = {**os.environ, "FACELEAD_DATA_DIR": str(data), "FACELEAD_DASK__WORKERS": "1"}
    for name in ("PREFECT_API_URL", "FACELEAD_DATABASE"):
        env.pop(name, None)
    port = free_port()
    process = subprocess.Popen([sys.executable, "-m", "facelead.cli", "demo", "--web", "--port", str(port)], env=env,
                               stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    output: list[str] = []
    reader = threading.Thread(target=lambda: output.extend(process.stdout), daemon=True)
    reader.start()
    deadline = time.monotonic() + 900
    while not any(line.startswith(SERVING) for line in output):
        assert process.poll() is None and time.monotonic() < deadline, "".join(output)[-4000:]
        time.sleep(0.5)
    lines = [line.rstrip("\n") for line in output]
    secrets = dict(re.match(r"\s+(demo-\w+)\s+(\S+)\s", line).groups() for line in lines
                   if re.match(r"\s+demo-\w+\s+\S+\s", line))
    [probe] = [line.split(": ", 1)[1] for line in lines if line.startswith("the probe to upload: ")]
    yield DemoSite(f"http://127.0.0.1:{port}", lines, secrets, Path(probe), data)
    process.send_signal(signal.SIGINT)
    assert process.wait(60) == 0, "".join(output)[-3000:]


def test_the_demo_ranks_the_probe_s_person_first_and_leaves_only_owner_only_files(demo):
    [verdict] = [line for line in demo.output if line.startswith("the probe is a degraded photo of")]
    expected, top = verdict.split("photo of ")[1].split("; rank 1 is ")
    assert expected == top
    [sheet] = [line.split(": ", 1)[1] for line in demo.output if line.startswith("candidate sheet: ")]
    html = open(sheet, encoding="utf-8").read()  # the first build calibrated the gallery: every candidate has a chance count
    assert "No score calibration exists" not in html and "from calibration gallery:demo-solvay-1927" in html.replace("\n", " ")
    assert html.count("expected chance candidates at this score in a gallery of") == 10
    assert set(demo.secrets) == {"demo-analyst", "demo-supervisor", "demo-reviewer", "demo-detective"}
    loose = [p for p in [demo.data, *demo.data.rglob("*")] if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert not loose, loose[:10]
    # a newcomer reads the run's progress, not the Dask cluster's housekeeping or a traceback
    noise = [line for line in demo.output if "| INFO    | distributed." in line or "Traceback" in line]
    assert not noise, noise[:5]


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (apt-get install chromium; CI does)")
def test_a_newcomer_follows_the_readme_from_the_demo_to_a_released_lead_in_the_browser(demo, browser, tmp_path):
    """The steps of the README's "From the demo to a released lead", one person after another."""
    from facelead import LEAD_NOTICE

    [verdict] = [line for line in demo.output if line.startswith("the probe is a degraded photo of")]
    expected = verdict.split("photo of ")[1].split(";")[0]

    def person(user_id: str) -> Person:
        return Person(browser, demo.url, user_id, demo.secrets[user_id], tmp_path)

    analyst = person("demo-analyst")
    analyst.page.get_by_role("link", name="New search request").click()
    analyst.page.get_by_label("Probe photo").set_input_files(str(demo.probe))
    analyst.page.get_by_label("Case number").fill("DEMO-WEB-1")
    analyst.page.get_by_label("Justification").fill("demo: who is this?")
    analyst.page.get_by_label("Requested by").select_option("demo-detective")
    analyst.page.get_by_role("button", name="File the request").click()
    if analyst.page.get_by_role("button", name=re.compile(r"^Face \d")).count():  # the README: click the middle face
        analyst.page.get_by_role("button", name="Face 1", exact=False).first.click()
    assert "awaits a supervisor's approval" in analyst.page.get_by_role("status").inner_text()

    supervisor = person("demo-supervisor")
    supervisor.page.get_by_role("link", name="Approval queue").click()
    supervisor.page.get_by_role("button", name="Approve case DEMO-WEB-1").click()

    analyst.open("/")
    analyst.page.get_by_role("link", name="My requests").click()
    analyst.page.get_by_role("button", name="Run the search for case DEMO-WEB-1").click()
    analyst.page.wait_for_url(re.compile(r".*/searches/[0-9a-f-]+$"), timeout=300_000)
    assert expected in analyst.page.get_by_role("row").filter(has_text="Compare rank 1").first.inner_text()
    analyst.page.get_by_role("link", name="Compare rank 1", exact=True).click()
    analyst.page.wait_for_url(re.compile(r".*/compare/1$"))
    analyst.page.keyboard.press("ArrowRight")
    analyst.page.wait_for_url(re.compile(r".*/compare/2$"))
    analyst.page.go_back()
    analyst.page.go_back()
    analyst.page.get_by_label("The probe's person is").select_option("1")
    analyst.page.get_by_role("button", name="Record the determination").click()

    reviewer = person("demo-reviewer")
    reviewer.page.get_by_role("link", name="Review queue").click()
    reviewer.page.get_by_role("link", name="Review case DEMO-WEB-1").click()
    reviewer.page.get_by_label("The probe's person is").select_option("1")
    reviewer.page.get_by_role("button", name="Record the review").click()
    assert "released" in reviewer.page.get_by_role("status").inner_text()

    detective = person("demo-detective")
    detective.page.get_by_role("link", name="Released leads").click()
    detective.page.get_by_role("link", name="Lead report for case DEMO-WEB-1").click()
    text = detective.page.locator("main").inner_text()
    assert LEAD_NOTICE in text and expected in text and "run by demo-analyst" in text
