"""The quick start's demo, as a new user runs it: the right person first, a calibrated
sheet, and nothing it leaves in the data folder readable by anyone but its owner."""

from __future__ import annotations

import os
import subprocess
import sys


def test_the_demo_ranks_the_probe_s_person_first_and_leaves_only_owner_only_files(tmp_path):
    data = tmp_path / "data"
    env = {**os.environ, "FACELEAD_DATA_DIR": str(data), "FACELEAD_DASK__WORKERS": "1"}
    env.pop("PREFECT_API_URL", None)
    done = subprocess.run([sys.executable, "-m", "facelead.cli", "demo"], env=env, capture_output=True, text=True,
                          timeout=900)
    assert done.returncode == 0, done.stdout[-3000:] + done.stderr[-3000:]
    [verdict] = [line for line in done.stdout.splitlines() if line.startswith("the probe is a degraded photo of")]
    expected, top = verdict.split("photo of ")[1].split("; rank 1 is ")
    assert expected == top
    [sheet] = [line.split(": ", 1)[1] for line in done.stdout.splitlines() if line.startswith("candidate sheet: ")]
    html = open(sheet, encoding="utf-8").read()  # the first build calibrated the gallery: every candidate has a chance count
    assert "No score calibration exists" not in html and "from calibration gallery:demo-solvay-1927" in html.replace("\n", " ")
    assert html.count("expected chance candidates at this score in a gallery of") == 10
    loose = [p for p in [data, *data.rglob("*")] if not p.is_symlink() and p.stat().st_mode & 0o077]
    assert not loose, loose[:10]
