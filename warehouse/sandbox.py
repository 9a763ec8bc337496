"""The auditors' sandbox: a snapshot of the warehouse without pixels, vectors or secrets,
and one read-only SELECT on it, limited in time and memory."""

from __future__ import annotations

import io
import os
import pickle
import re
import resource
import subprocess
import sys
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from uuid import UUID

import duckdb

from facelead.refusal import Refusal
from warehouse.sql import identifier, query


class QueryRefused(Refusal, ValueError):
    """An auditor's query that the sandbox did not run or answer: not one SELECT
    (``read_only``), past its time limit (``time_limit``), an answer over its rows or bytes
    (``too_many_rows``, ``too_large``), too many queries at once (``busy``), or bad SQL, a
    file, setting or memory it may not use (``query``)."""


FETCH_ROWS = 1000  # rows fetched at a time, each batch counted against the answer's limits
_RUNNING: dict[str, int] = {}
_RUNNING_LOCK = threading.Lock()


@contextmanager
def query_slot(actor: str, at_once: int) -> Iterator[None]:
    """Room for one query of ``actor``: one at a time per person, ``at_once`` in all; else
    QueryRefused ``busy`` at once (nobody queues behind a long query)."""
    with _RUNNING_LOCK:
        if actor in _RUNNING or sum(_RUNNING.values()) >= at_once:
            mine = actor in _RUNNING
            raise QueryRefused("busy", "your previous query is still running" if mine else
                               f"{at_once} auditor queries are running; try again in a moment")
        _RUNNING[actor] = 1
    try:
        yield
    finally:
        with _RUNNING_LOCK:
            _RUNNING.pop(actor, None)


def _cell_bytes(value: object) -> int:
    """What a cell weighs in an answer: its text or bytes, those of every value nested in it."""
    if isinstance(value, (str, bytes)):
        return len(value)
    if isinstance(value, (list, tuple)):
        return 8 + sum(map(_cell_bytes, value))
    if isinstance(value, dict):
        return 8 + sum(_cell_bytes(k) + _cell_bytes(v) for k, v in value.items())
    return 8


def write_snapshot(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """A new DuckDB file at ``path`` for auditors: every table less its pixels, vectors and
    secrets' hashes (``snapshot_columns.sql``) and the rows blind review withholds
    (``snapshot_withheld.sql``), and every view; returns rows by table. It is
    written beside ``path`` and renamed into place, so a reader never sees half of one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    counts = {}
    snapshot = duckdb.connect(str(partial))
    withheld = dict(conn.execute(query("snapshot_withheld")).fetchall())
    try:
        for table, columns in conn.execute(query("snapshot_columns")).fetchall():
            # identifiers from the catalog of facelead's own migrations, quoted; conditions from
            # snapshot_withheld.sql; no value is spliced
            kept = f" WHERE NOT ({withheld[table]})" if table in withheld else ""
            copy = f"SELECT {', '.join(map(identifier, columns))} FROM {identifier(table)}{kept}"
            rows = conn.sql(copy).to_arrow_table()
            snapshot.from_arrow(rows).create(table)
            counts[table] = rows.num_rows
        for (view_sql,) in conn.execute(query("snapshot_views")).fetchall():
            snapshot.execute(view_sql)
        snapshot.execute("CHECKPOINT")
    finally:
        snapshot.close()
    partial.chmod(0o600)
    partial.replace(path)
    return counts


CHILD_OVERHEAD = 512 * 2**20  # the query's process beyond DuckDB's memory: Python, DuckDB's code, the answer
STARTUP_SECONDS = 15  # the query's process may take this long to start, beyond the query's own time
_SAFE_CLASSES = {("datetime", "datetime"), ("datetime", "date"), ("datetime", "time"), ("datetime", "timedelta"),
                 ("datetime", "timezone"), ("decimal", "Decimal")}


def sandboxed_query(snapshot: Path, sql: str, seconds: float, memory: str, max_rows: int,
                    max_bytes: int) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of one SELECT (``WITH ... SELECT`` included) on ``snapshot``, run
    by ``select`` in a process of its own whose data may not grow past ``memory`` and
    ``CHILD_OVERHEAD`` and which spills nothing to disk (so no answer, however large it asks
    to be, costs the service its memory or disk), stopped after ``seconds``. Anything it
    refuses raises QueryRefused here."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused("query", str(exc).splitlines()[0]) from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise QueryRefused("read_only", f"one SELECT statement only (read-only): this is {kinds}")
    ask = pickle.dumps((_bytes(memory) + CHILD_OVERHEAD, str(snapshot), sql, seconds, memory, max_rows, max_bytes))
    try:  # -I: the installed code alone, whatever the folder or the environment
        done = subprocess.run([sys.executable, "-I", "-m", "warehouse.sandbox"], input=ask, capture_output=True,
                              timeout=seconds + STARTUP_SECONDS, env={"PATH": os.defpath})
    except subprocess.TimeoutExpired as exc:
        raise QueryRefused("time_limit", f"stopped after {seconds:g} s (the time limit)") from exc
    if done.returncode != 0:
        raise QueryRefused("query", f"the query's process ended without an answer (within {memory} of memory)")
    outcome, *answer = _SafeUnpickler(io.BytesIO(done.stdout)).load()
    if outcome == "refused":
        raise QueryRefused(*answer)
    return answer[0], answer[1]


class _SafeUnpickler(pickle.Unpickler):
    """Reads the query's process's answer: plain values, times and decimals, nothing
    that could run code here even if that process were subverted."""

    def find_class(self, module: str, name: str) -> type:
        if (module, name) not in _SAFE_CLASSES:
            raise pickle.UnpicklingError(f"{module}.{name} is not a value an answer holds")
        return super().find_class(module, name)


def _bytes(memory: str) -> int:
    """'256MB', '1GB', '512KiB' as bytes (DuckDB's memory_limit units)."""
    number, unit = re.fullmatch(r"\s*([\d.]+)\s*([KMGT]?)I?B?\s*", memory.upper()).groups()
    return int(float(number) * 1024 ** " KMGT".index(unit or " "))


def select(snapshot: Path, sql: str, seconds: float, memory: str, max_rows: int,
           max_bytes: int) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of one SELECT on ``snapshot``, read-only, with external access off
    and the configuration locked, one thread, at most ``memory`` and ``seconds`` (fetching
    included), an answer of at most ``max_rows`` rows and ``max_bytes`` of text; anything
    else raises QueryRefused. The warehouse itself is never opened, so no query holds a lock
    a writer waits for."""
    conn = duckdb.connect(str(snapshot), read_only=True, config={
        "enable_external_access": False, "lock_configuration": True, "memory_limit": memory, "threads": 1,
        "temp_directory": ""})  # nothing spills to disk: a query fits its memory or is refused
    timer = threading.Timer(seconds, conn.interrupt)
    timer.start()
    try:
        cursor = conn.execute(sql)
        rows: list[tuple] = []
        size = 0
        while batch := cursor.fetchmany(FETCH_ROWS):
            rows += batch
            size += sum(_cell_bytes(v) for row in batch for v in row)
            if len(rows) > max_rows:
                raise QueryRefused("too_many_rows", f"the answer has more than {max_rows:,} rows: narrow it (WHERE, "
                                                    "LIMIT, GROUP BY) or take the snapshot away (audit snapshot)")
            if size > max_bytes:
                raise QueryRefused("too_large", f"the answer holds more than {max_bytes:,} bytes: narrow it, or "
                                                "take the snapshot away (audit snapshot)")
        return [d[0] for d in cursor.description or []], rows
    except duckdb.InterruptException as exc:
        raise QueryRefused("time_limit", f"stopped after {seconds:g} s (the time limit)") from exc
    except duckdb.Error as exc:
        raise QueryRefused("query", str(exc).splitlines()[0]) from exc
    finally:
        timer.cancel()
        conn.close()


def _plain(value: object) -> object:
    """A cell as the service reads it back: times in UTC, UUIDs as text, lists and maps within."""
    if isinstance(value, datetime) and value.tzinfo is not None:
        return value.astimezone(timezone.utc)
    if isinstance(value, UUID):
        return str(value)
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    if isinstance(value, dict):
        return {_plain(k): _plain(v) for k, v in value.items()}
    return value


def _answer_one() -> None:
    """The query's process: one ask on stdin (pickled by ``sandboxed_query``), its answer or
    refusal pickled on stdout."""
    ceiling, snapshot, sql, seconds, memory, max_rows, max_bytes = pickle.loads(sys.stdin.buffer.read())
    resource.setrlimit(resource.RLIMIT_DATA, (ceiling, ceiling))  # before the query: its data stops here
    try:
        columns, rows = select(Path(snapshot), sql, seconds, memory, max_rows, max_bytes)
        answer = pickle.dumps(("ok", columns, [tuple(_plain(v) for v in row) for row in rows]))
        if len(answer) > 2 * max_bytes + 64 * 1024:  # whatever the cells hold, the answer stays bounded
            raise QueryRefused("too_large", f"the answer holds more than {max_bytes:,} bytes: narrow it, or take "
                                            "the snapshot away (audit snapshot)")
    except QueryRefused as exc:
        answer = pickle.dumps(("refused", exc.reason, exc.detail))
    sys.stdout.buffer.write(answer)


if __name__ == "__main__":
    _answer_one()
