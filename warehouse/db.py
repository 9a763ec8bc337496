"""Connections to the warehouse: opened, migrated, held, rewritten; the transactions and named
queries of ``warehouse.sql`` are used through it by every other layer.

DuckDB allows one writing process per file. Open with ``open_db`` for a short unit of
work and close; another process holding the file makes us wait and retry, then fail
with a clear message.
"""

from __future__ import annotations

import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from pathlib import Path

import duckdb

from warehouse.chain import adopt_anchor, carry_over_chain, chain_files, seal_pending, share_with_runs
from warehouse.sql import (
    TerminalDbError,
    TransientDbError,
    current_name,
    identifier,
    is_transient,
    literal,
    migrations,
    now,
    query,
    registered,
    transaction,
)

# The connection's API, for every layer that opens the warehouse.
__all__ = ["TerminalDbError", "TransientDbError", "KEYED_AUDIT_VERSION", "connect", "held", "is_transient", "migrate",
           "migrations", "now", "open_db", "query", "registered", "rewrite_file", "seal_when_rung", "table_counts",
           "transaction"]

log = logging.getLogger(__name__)


KEYED_AUDIT_VERSION = 10  # 0010_keyed_audit.sql: the chain is keyed from here on


def migrate(conn: duckdb.DuckDBPyConnection) -> list[str]:
    """Apply pending migrations in one transaction; return the names applied. Applying
    0010 to a database that has an audit chain carries the chain over to the key."""
    conn.execute(query("schema_migrations"))
    done = {row[0] for row in conn.execute(query("applied_migrations")).fetchall()}
    pending = [m for m in migrations() if m[0] not in done]
    if not pending:  # every connection asks: the usual answer costs two reads, no transaction
        return []
    with transaction(conn):
        for version, name, sql in pending:
            conn.execute(sql)
            conn.execute(query("record_migration"), [version, name])
        if any(version == KEYED_AUDIT_VERSION for version, _, _ in pending):
            carry_over_chain(conn)  # after the last migration: the cross-check reads today's schema
    return [name for _, name, _ in pending]


def _connect_once(path: Path, read_only: bool) -> duckdb.DuckDBPyConnection:
    try:
        conn = duckdb.connect(str(path), read_only=read_only)
    except duckdb.IOException as exc:
        if "lock" in str(exc).lower():
            raise TransientDbError(f"{path} is locked by another process") from exc
        raise TerminalDbError(f"{path}: {exc}") from exc
    except duckdb.Error as exc:
        raise TerminalDbError(f"{path}: {exc}") from exc
    conn.execute("SET TimeZone = 'UTC'")
    return conn


def connect(path: Path, read_only: bool = False, lock_timeout_s: float = 60.0) -> duckdb.DuckDBPyConnection:
    """Open ``path`` (migrating it when writable), waiting while another process holds it.

    DuckDB keeps one instance, and so one mode, per file in a process: a read-only
    connection fails while the process has the file open for writing (two threads of the
    service, one searching, one verifying the audit chain). So ``read_only`` is honoured
    only where this process may not write the file; elsewhere it opens for writing too.
    """
    read_only = read_only and not (path.exists() and os.access(path, os.W_OK))
    deadline = time.monotonic() + lock_timeout_s
    delay = 0.2
    while True:
        try:
            if not read_only:
                path.parent.mkdir(parents=True, exist_ok=True)
            conn = _connect_once(path, read_only)
            break
        except TransientDbError as exc:
            if time.monotonic() >= deadline:
                raise TransientDbError(f"{exc}; gave up after {lock_timeout_s:.0f}s") from exc
            log.warning("%s; retrying in %.1fs", exc, delay)
            time.sleep(delay)
            delay = min(delay * 2, 5.0)
    if not read_only and path not in _HELD:  # a held file was migrated by its keeper and stays open
        with suppress(PermissionError):  # a flow run under service.run_user leaves it to the service
            adopt_anchor(path)
            share_with_runs(path)
        migrate(conn)
    return conn


class _FileGate:
    """Connections of this process share one DuckDB instance per file, so the file can be
    swapped for a rewritten copy only while none is open: ``open_db`` holds the gate shared,
    ``rewrite_file`` exclusively (new connections wait for it; a thread already holding the
    gate may open more)."""

    def __init__(self) -> None:
        self._cond = threading.Condition()
        self._shared = 0
        self._exclusive = False
        self._waiting = 0
        self._mine = threading.local()

    @contextmanager
    def shared(self) -> Iterator[None]:
        held = getattr(self._mine, "count", 0)
        with self._cond:
            while not held and (self._exclusive or self._waiting):
                self._cond.wait()
            self._shared += 1
        self._mine.count = held + 1
        try:
            yield
        finally:
            self._mine.count = held
            with self._cond:
                self._shared -= 1
                self._cond.notify_all()

    @contextmanager
    def exclusive(self) -> Iterator[None]:
        with self._cond:
            self._waiting += 1
            while self._exclusive or self._shared:
                self._cond.wait()
            self._waiting -= 1
            self._exclusive = True
        try:
            yield
        finally:
            with self._cond:
                self._exclusive = False
                self._cond.notify_all()


_GATE = _FileGate()


_HELD: Counter[Path] = Counter()  # files ``held`` open by this process, and how many times


_HELD_LOCK = threading.Lock()


@contextmanager
def open_db(path: Path, read_only: bool = False, lock_timeout_s: float = 60.0) -> Iterator[duckdb.DuckDBPyConnection]:
    """A connection for one short unit of work, closed on exit."""
    with _GATE.shared():
        conn = connect(path, read_only, lock_timeout_s)
        try:
            yield conn
        finally:
            conn.close()


@contextmanager
def held(path: Path) -> Iterator[None]:
    """Keep the file's DuckDB instance open for the block, so that the many short
    ``open_db`` units of one search (any thread of this process) connect in microseconds
    instead of loading the database each time (about 25 ms). Other processes wait for the
    block to end, as for any connection: hold it for short work only."""
    with _GATE.shared():
        keeper = connect(path)
        with _HELD_LOCK:
            _HELD[path] += 1
        try:
            yield
        finally:
            with _HELD_LOCK:
                _HELD[path] -= 1
                if not _HELD[path]:
                    del _HELD[path]
            keeper.close()


def rewrite_file(path: Path, lock_timeout_s: float = 60.0) -> int:
    """Copy the database into a new file and put it in place of the old one, so that no
    free block of the file still holds deleted rows (DuckDB reuses free blocks but never
    clears them). Waits until no connection of this process is open and holds the file's
    lock throughout; returns the new file's size. Call with no connection open."""
    fresh = path.with_name(f".{path.name}.rewrite")
    fresh.unlink(missing_ok=True)
    with _GATE.exclusive():
        conn = connect(path, lock_timeout_s=lock_timeout_s)
        try:
            conn.execute("CHECKPOINT")
            conn.execute(f"ATTACH {literal(str(fresh))} AS fresh")
            conn.execute(f"COPY FROM DATABASE {identifier(current_name(conn))} TO fresh")
            conn.execute("DETACH fresh")
            os.chmod(fresh, path.stat().st_mode & 0o777)
            os.replace(fresh, path)  # under the old file's lock: the next connection opens the copy
        finally:
            conn.close()
    return path.stat().st_size


def seal_when_rung(database: Path, stop: threading.Event, every_s: float = 1.0) -> None:
    """Until ``stop``: seal the pending audit rows each time a flow run rings the bell (the
    service's thread; a stat a second while nothing rings)."""
    bell, seen = chain_files(database).bell, None
    while not stop.wait(every_s):
        with suppress(FileNotFoundError):
            rung = bell.stat().st_mtime_ns
            if rung != seen:
                seen = rung
                try:
                    with open_db(database) as conn, transaction(conn):
                        seal_pending(conn)
                except (TransientDbError, TerminalDbError) as exc:
                    seen = None  # tried again on the next tick
                    log.warning("sealing pending audit rows: %s", exc)


def table_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute(query("table_counts")).fetchall())
