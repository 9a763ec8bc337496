"""The warehouse's ground floor: named queries and migrations read from the package, the
errors, and transactions (one writer at a time in a process, work done after COMMIT)."""

from __future__ import annotations

import functools
import threading
from collections.abc import Callable, Iterator
from contextlib import contextmanager, suppress
from datetime import datetime, timezone
from importlib import resources
from typing import TypeVar

import duckdb
import pyarrow as pa

_SQL = resources.files("warehouse")
T = TypeVar("T")


class TransientDbError(RuntimeError):
    """Worth retrying: the file is locked by another process."""


class TerminalDbError(RuntimeError):
    """Not worth retrying: bad schema, constraint violation, corrupt file."""


def is_transient(exc: BaseException) -> bool:
    return isinstance(exc, TransientDbError)


@functools.cache
def query(name: str) -> str:
    """The SQL text of ``queries/<name>.sql``."""
    return (_SQL / "queries" / f"{name}.sql").read_text()


@functools.cache
def migrations() -> tuple[tuple[int, str, str], ...]:
    """(version, name, sql) of every bundled migration, in order (read once a process)."""
    files = sorted(f for f in (_SQL / "migrations").iterdir() if f.name.endswith(".sql"))
    return tuple((int(f.name.split("_", 1)[0]), f.name, f.read_text()) for f in files)


# DuckDB lets one process write a file; inside the service many threads write (searches,
# enrollments, sign-ins), and two transactions appending to the audit chain at once would
# both take the next row number. Write transactions therefore take turns in a process too.
_ONE_WRITER = threading.RLock()


_OPEN = threading.local()  # .after: what this thread's open transaction does once committed


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, one at a time in this process, rolled back on any error; DuckDB
    errors become Terminal/Transient. After COMMIT, what the work asked for with
    ``after_commit`` is done (the audit chain's anchor, the pending rows' bell)."""
    with _ONE_WRITER:
        conn.execute("BEGIN TRANSACTION")
        _OPEN.after = {}
        try:
            try:
                yield conn
            except BaseException as exc:
                conn.execute("ROLLBACK")
                if isinstance(exc, duckdb.TransactionException) and "conflict" in str(exc).lower():
                    raise TransientDbError(str(exc)) from exc
                if isinstance(exc, duckdb.Error):
                    raise TerminalDbError(str(exc)) from exc
                raise
            conn.execute("COMMIT")
            for then in _OPEN.after.values():
                then()
        finally:
            del _OPEN.after


def in_transaction() -> bool:
    """Whether this thread is inside ``transaction``."""
    return hasattr(_OPEN, "after")


def after_commit(name: str, then: Callable[[], None]) -> None:
    """Do ``then`` once this thread's transaction commits (the last asked under ``name``)."""
    _OPEN.after[name] = then


@contextmanager
def registered(conn: duckdb.DuckDBPyConnection, name: str, table: pa.Table) -> Iterator[None]:
    """Expose an Arrow table to SQL as ``name`` for the duration of the block."""
    conn.register(name, table)
    try:
        yield
    except BaseException:
        with suppress(duckdb.Error):  # an aborted transaction refuses this; the error that matters is raised
            conn.unregister(name)
        raise
    conn.unregister(name)


def now() -> datetime:
    return datetime.now(timezone.utc)


def dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def records(cursor: duckdb.DuckDBPyConnection, record: type[T]) -> list[T]:
    """The cursor's rows as ``record``s (a frozen dataclass whose fields are the columns)."""
    return [record(**row) for row in dicts(cursor)]


def one(cursor: duckdb.DuckDBPyConnection) -> dict | None:
    rows = dicts(cursor)
    return rows[0] if rows else None


def identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


def literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


def current_name(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT current_database()").fetchone()[0]
