"""The auditors' sandbox: a snapshot of the warehouse without pixels, vectors or secrets,
and one read-only SELECT on it, limited in time and memory."""

from __future__ import annotations

import threading
from pathlib import Path

import duckdb

from facelead.refusal import Refusal
from warehouse.sql import identifier, query


class QueryRefused(Refusal, ValueError):
    """An auditor's query that the sandbox did not run: not one SELECT (``read_only``), past
    its time limit (``time_limit``), or bad SQL, a file, setting or memory it may not use
    (``query``)."""


def write_snapshot(conn: duckdb.DuckDBPyConnection, path: Path) -> dict[str, int]:
    """A new DuckDB file at ``path`` for auditors: every table less its pixels, vectors and
    secrets' hashes (``snapshot_columns.sql``), and every view; returns rows by table. It is
    written beside ``path`` and renamed into place, so a reader never sees half of one."""
    partial = path.with_name(f".{path.name}.partial")
    partial.unlink(missing_ok=True)
    counts = {}
    snapshot = duckdb.connect(str(partial))
    try:
        for table, columns in conn.execute(query("snapshot_columns")).fetchall():
            # identifiers from the catalog of facelead's own migrations, quoted; no value is spliced
            rows = conn.sql(f"SELECT {', '.join(map(identifier, columns))} FROM {identifier(table)}").to_arrow_table()
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


def sandboxed_query(snapshot: Path, sql: str, seconds: float, memory: str) -> tuple[list[str], list[tuple]]:
    """(column names, rows) of one SELECT (``WITH ... SELECT`` included) on ``snapshot``,
    read-only, with external access off and the configuration locked, one thread, at most
    ``memory`` and ``seconds``; anything else raises QueryRefused. The warehouse itself is
    never opened, so no query holds a lock a writer waits for."""
    try:
        statements = duckdb.extract_statements(sql)
    except duckdb.Error as exc:
        raise QueryRefused("query", str(exc).splitlines()[0]) from exc
    if len(statements) != 1 or statements[0].type != duckdb.StatementType.SELECT:
        kinds = ", ".join(s.type.name for s in statements) or "nothing"
        raise QueryRefused("read_only", f"one SELECT statement only (read-only): this is {kinds}")
    conn = duckdb.connect(str(snapshot), read_only=True, config={
        "enable_external_access": False, "lock_configuration": True, "memory_limit": memory, "threads": 1})
    timer = threading.Timer(seconds, conn.interrupt)
    timer.start()
    try:
        cursor = conn.execute(sql)
        return [d[0] for d in cursor.description or []], cursor.fetchall()
    except duckdb.InterruptException as exc:
        raise QueryRefused("time_limit", f"stopped after {seconds:g} s (the time limit)") from exc
    except duckdb.Error as exc:
        raise QueryRefused("query", str(exc).splitlines()[0]) from exc
    finally:
        timer.cancel()
        conn.close()
