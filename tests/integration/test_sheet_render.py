"""The candidate sheet as a browser shows it: headless Chromium, screenshot and rendered DOM."""

from __future__ import annotations

import shutil
import subprocess

import numpy as np
import pytest
from PIL import Image

from facelead import LEAD_NOTICE

from fixtures import run_search

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
NOTICE_RED = np.array([0xB0, 0x00, 0x20])


def _chromium(*args: str, profile) -> subprocess.CompletedProcess:
    return subprocess.run(
        [CHROMIUM, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run", "--disable-background-networking",
         "--disable-component-update", "--disable-sync", f"--user-data-dir={profile}", *args],
        capture_output=True, text=True, timeout=120, check=True)


@pytest.mark.skipif(CHROMIUM is None, reason="Chromium not installed (scripts/setup installs Debian's chromium as root)")
def test_the_sheet_renders_with_its_notice(enrolled, approved, tmp_path):
    probe, _ = enrolled.probes[0]
    outcome = run_search(approved(probe, "TEST-RENDER"), k=3)
    url = outcome.sheet.absolute().as_uri()
    dom = _chromium("--dump-dom", url, profile=tmp_path / "profile").stdout
    assert dom.count(LEAD_NOTICE) == 2 and "TEST-RENDER" in dom
    shot = tmp_path / "sheet.png"
    _chromium(f"--screenshot={shot}", "--window-size=1100,1000", url, profile=tmp_path / "profile")
    pixels = np.asarray(Image.open(shot).convert("RGB")).astype(int)
    assert pixels.std() > 20  # not blank
    notice = (np.abs(pixels - NOTICE_RED).sum(axis=2) < 40).sum()
    assert notice > 500  # the red notice box and its text are drawn
