"""What the policy check and the grant add to an analyst's search, in milliseconds.

A search through the service pays: the policy check before the run (``authorized``), the
grant (``grant_for``), and inside the flow the grant's verification, spending its nonce
and the policy check again (``run_principal``). Each is timed here on a real DuckDB file
with a few dozen users; the median of ``--repeat`` runs is printed. Sign-in (one scrypt)
is printed for comparison: it is paid once per session, not per search.
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from datetime import date
from pathlib import Path

from facelead.policy import Action
from facelead.settings import SecuritySettings, Settings
from facelead.workflow import add_user, authorized, grant_for, run_principal, set_secret, sign_in
from flows.search_probe import search_probe


def _median_ms(work, repeat: int) -> float:
    times = []
    for _ in range(repeat):
        started = time.perf_counter()
        work()
        times.append(time.perf_counter() - started)
    return 1000 * statistics.median(times)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--repeat", type=int, default=50, help="runs of each step (default: %(default)s)")
    args = parser.parse_args()
    limits = SecuritySettings()
    with tempfile.TemporaryDirectory() as folder:
        settings = Settings(data_dir=Path(folder))
        db_path = settings.database_path
        add_user(db_path, None, "admin", "Admin", ["admin"], None, limits)
        for i in range(40):
            add_user(db_path, "admin", f"analyst{i}", f"Analyst {i}", ["analyst"], date(2099, 1, 1), limits)
        set_secret(db_path, "ana", add_user(db_path, "admin", "ana", "Ana", ["analyst"], date(2099, 1, 1), limits),
                   "the secret of ana", limits)
        params = {"request_id": "R-1", "k": 20, "face_index": None, "quality_override": None}
        rows = [
            ("policy check before the run (authorized)",
             lambda: authorized(db_path, "analyst3", Action.SEARCH, "request:R-1")),
            ("grant issued (grant_for)",
             lambda: grant_for(settings, "analyst3", Action.SEARCH, search_probe, params)),
        ]
        grants = [grant_for(settings, "analyst3", Action.SEARCH, search_probe, params) for _ in range(args.repeat)]
        rows.append(("in the flow: verify, spend, policy check (run_principal)",
                     lambda: run_principal(settings, Action.SEARCH, "request:R-1", params, grants.pop(), False)))
        print(f"{'step':<58} {'median ms':>10}")
        total = 0.0
        for label, work in rows:
            ms = _median_ms(work, args.repeat)
            total += ms
            print(f"{label:<58} {ms:>10.2f}")
        print(f"{'added to each search':<58} {total:>10.2f}")
        print(f"{'sign-in, once per session (scrypt)':<58} "
              f"{_median_ms(lambda: sign_in(db_path, 'ana', 'the secret of ana', limits), 10):>10.2f}")


if __name__ == "__main__":
    main()
