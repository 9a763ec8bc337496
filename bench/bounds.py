"""The memory one person's request can cost the service, each measured in a fresh process as
its peak resident size (sampled every 2 ms) above the same process just before:

- decode: one image at the pixel limit (``FACELEAD_MAX_IMAGE_PIXELS``), as a probe or a
  gallery photo is decoded;
- upload: one probe of the largest size taken (``FACELEAD_SERVICE__MAX_PROBE_BYTES``),
  posted to the API as base64 by an analyst, to the moment the request is filed;
- auditor query: the largest answer taken (``FACELEAD_SECURITY__AUDIT_QUERY_BYTES``), and
  a query asking for a 900 MB string (refused within the query's memory).

    .venv/bin/python bench/bounds.py            # prints one line a case, in MB
"""

from __future__ import annotations

import argparse
import subprocess
import sys
import textwrap

AUDITOR = """
    import tempfile
    from pathlib import Path
    import duckdb
    from facelead.settings import Settings
    from warehouse import sandbox
    limits = Settings().security
    snapshot = Path(tempfile.mkdtemp()) / "s.duckdb"
    duckdb.connect(str(snapshot)).close()
    START()
    try:
        sandbox.sandboxed_query(snapshot, {sql}, 30, limits.audit_query_memory, limits.audit_query_rows,
                                limits.audit_query_bytes)
    except sandbox.QueryRefused as exc:
        print("refused:", exc.reason, end="; ")
    STOP({what})
"""

CASES = {
    "decode": """
        import io
        import numpy as np
        from PIL import Image
        from facelead.settings import Settings
        from models.image import decode_image
        limit = Settings().max_image_pixels
        side = int(limit ** 0.5)
        buffer = io.BytesIO()
        Image.fromarray(np.random.default_rng(0).integers(0, 255, (side // 8, side // 8, 3), np.uint8)) \\
            .resize((side, side)).save(buffer, "JPEG", quality=90)
        data = buffer.getvalue()
        del buffer
        START()
        decode_image(data, limit)
        STOP(f"{side}x{side} ({side * side / 1e6:.0f} MP, a {len(data) / 1e6:.1f} MB JPEG)")
    """,
    "upload": """
        import base64, os, tempfile
        from datetime import date
        from pathlib import Path
        os.environ["FACELEAD_DATA_DIR"] = tempfile.mkdtemp()
        from fastapi.testclient import TestClient
        from facelead.settings import Settings
        from facelead.service import create_app
        from facelead.workflow import add_user, set_secret
        settings = Settings()
        limits = settings.security
        add_user(settings.database_path, None, "admin.bench", "Admin", ["admin"], None, limits)
        code = add_user(settings.database_path, "admin.bench", "ana.bench", "Ana", ["analyst"], date(2099, 1, 1), limits)
        set_secret(settings.database_path, "ana.bench", code, "a secret of ana's", limits)
        client = TestClient(create_app(settings))
        token = client.post("/api/session", json={"user_id": "ana.bench", "secret": "a secret of ana's"}).json()["token"]
        probe = b"\\xff\\xd8" + os.urandom(settings.service.max_probe_bytes - 2)
        body = {"case_number": "BENCH-1", "offense_code": settings.offense_codes[0], "justification": "memory bench",
                "gallery": "default", "probe_name": "p.jpg", "probe_base64": base64.b64encode(probe).decode()}
        del probe
        START()
        answer = client.post("/api/requests", json=body, headers={"Authorization": f"Bearer {token}"})
        assert answer.status_code == 200, answer.text
        STOP(f"a {settings.service.max_probe_bytes / 1e6:.1f} MB probe")
    """,
    "auditor query": AUDITOR.format(sql="f\"SELECT repeat('x', {limits.audit_query_bytes - 1000})\"",
                                     what="f'an answer of {limits.audit_query_bytes / 1e6:.1f} MB'"),
    "auditor query refused": AUDITOR.format(sql="\"SELECT repeat('x', 900000000)\"",
                                             what="f'a 900 MB string asked for, refused within {limits.audit_query_memory}'"),
}

PRELUDE = """
import os, threading, time
_PAGE = os.sysconf("SC_PAGE_SIZE")
def _rss_mb():
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * _PAGE / 2**20
def _sample():
    global _peak
    while not _done.is_set():
        _peak = max(_peak, _rss_mb())
        time.sleep(0.002)
def START():
    global _base, _peak, _done, _sampler
    import gc
    gc.collect()
    _base = _peak = _rss_mb()
    _done = threading.Event()
    _sampler = threading.Thread(target=_sample, daemon=True)
    _sampler.start()
def STOP(what):
    _done.set()
    _sampler.join()
    print(f"{max(_peak, _rss_mb()) - _base:8.0f} MB above the process before ({_base:.0f} MB): {what}")
"""


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--case", choices=sorted(CASES), action="append", help="only these (default: all)")
    args = parser.parse_args()
    for name in args.case or CASES:
        code = PRELUDE + textwrap.dedent(CASES[name])
        done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True)
        line = done.stdout.strip() or f"failed: {(done.stderr.strip().splitlines() or ['?'])[-1]}"
        print(f"{name:>22}: {line}", flush=True)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
