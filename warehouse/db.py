"""The one module that talks to DuckDB: connections, migrations, transactions, named queries.

DuckDB allows one writing process per file. Open with ``open_db`` for a short unit of
work and close; another process holding the file makes us wait and retry, then fail
with a clear message.
"""

from __future__ import annotations

import functools
import json
import logging
import os
import threading
import time
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass
from datetime import date, datetime, timedelta, timezone
from importlib import resources
from pathlib import Path

import duckdb
import numpy as np
import pyarrow as pa

from facelead.files import ForeignKeyFolder, secret_key, secrets_dir, shared_with_runs
from facelead.refusal import Refusal
from models.calibration import Calibration, PossibleDuplicate
from models.index import GalleryVectors
from warehouse.audit import (
    CARRY_OVER,
    GENESIS_HASH,
    Anchor,
    AuditRow,
    ChainVerdict,
    canonical_details,
    carry_over_details,
    next_row,
    verify_chain,
)
from warehouse.records import (
    CandidateRecord,
    EvaluationRecord,
    IndexBuildRecord,
    RequestRecord,
    SearchRecord,
    StoredRequest,
    StoredUser,
    UserRecord,
    parameters,
)

log = logging.getLogger(__name__)
_SQL = resources.files("warehouse")


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
            _carry_over_chain(conn)  # after the last migration: the cross-check reads today's schema
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
            _adopt_anchor(path)
            _share_with_runs(path)
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
            conn.execute(f"ATTACH {_literal(str(fresh))} AS fresh")
            conn.execute(f"COPY FROM DATABASE {_identifier(_current_name(conn))} TO fresh")
            conn.execute("DETACH fresh")
            os.chmod(fresh, path.stat().st_mode & 0o777)
            os.replace(fresh, path)  # under the old file's lock: the next connection opens the copy
        finally:
            conn.close()
    return path.stat().st_size


def _current_name(conn: duckdb.DuckDBPyConnection) -> str:
    return conn.execute("SELECT current_database()").fetchone()[0]


def _literal(text: str) -> str:
    return "'" + text.replace("'", "''") + "'"


# DuckDB lets one process write a file; inside the service many threads write (searches,
# enrollments, sign-ins), and two transactions appending to the audit chain at once would
# both take the next row number. Write transactions therefore take turns in a process too.
_ONE_WRITER = threading.RLock()
_OPEN = threading.local()  # .head: the audit head this thread's open transaction will anchor


@contextmanager
def transaction(conn: duckdb.DuckDBPyConnection) -> Iterator[duckdb.DuckDBPyConnection]:
    """BEGIN ... COMMIT, one at a time in this process, rolled back on any error; DuckDB
    errors become Terminal/Transient. After COMMIT the audit head it wrote is anchored."""
    with _ONE_WRITER:
        conn.execute("BEGIN TRANSACTION")
        _OPEN.head = _OPEN.bell = None
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
            if _OPEN.head is not None:
                _write_anchor(*_OPEN.head)
            if _OPEN.bell is not None:
                _OPEN.bell.touch()
        finally:
            del _OPEN.head, _OPEN.bell


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


# -- audit -----------------------------------------------------------------------------

@dataclass(frozen=True)
class ChainFiles:
    """Where a database's audit chain keeps what must not live in the database."""

    key: Path     # owner-only HMAC key
    anchor: Path  # append-only log of committed heads, one JSON line each
    bell: Path    # touched after a commit left rows in audit_pending for the service to seal


def chain_files(database: Path) -> ChainFiles:
    return ChainFiles(secrets_dir(database) / "audit.key", secrets_dir(database) / f"{database.name}.anchor",
                      database.with_name(database.name + ".pending"))


def _share_with_runs(database: Path) -> None:
    """Where ``serve`` shares the database's folder with the flow runs' account, let its
    group write the file and its log, whatever the umask of the process that made them."""
    if shared_with_runs(database.parent):
        for file in (database, database.with_name(database.name + ".wal")):
            with suppress(FileNotFoundError):
                facts = file.stat()
                if facts.st_uid == os.geteuid() and facts.st_mode & 0o060 != 0o060:
                    file.chmod(0o660)


def _adopt_anchor(database: Path) -> None:
    """Move an anchor log from beside the database, where it used to be kept (and where an
    account that may write the data folder could replace it), into the keys' folder."""
    old, new = database.with_name(database.name + ".anchor"), chain_files(database).anchor
    if old.is_file() and not new.exists():
        new.parent.mkdir(mode=0o700, parents=True, exist_ok=True)
        os.replace(old, new)


def database_file(conn: duckdb.DuckDBPyConnection) -> Path:
    """The file behind ``conn``; the audit chain needs one."""
    path = conn.execute("SELECT path FROM duckdb_databases() WHERE database_name = current_database()").fetchone()[0]
    if not path:
        raise TerminalDbError("an in-memory database has no place for an audit key and anchor")
    return Path(path)


def _audit_key(path: Path, create: bool) -> bytes:
    try:
        return secret_key(path, create)
    except FileNotFoundError:
        raise TerminalDbError(f"{path}: the audit key is missing, so the audit chain can be neither "
                              f"extended nor verified; restore it from the service's backup") from None


def _write_anchor(path: Path, row: AuditRow) -> None:
    """Append the committed head to the anchor log (owner-only, synced)."""
    line = json.dumps({"seq": row.seq, "mac": row.row_hash, "at": row.at.isoformat()}) + "\n"
    fd = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
    try:
        os.write(fd, line.encode())
        os.fsync(fd)
    finally:
        os.close(fd)


def read_anchors(path: Path) -> list[Anchor]:
    """The heads in an anchor log; a line a crash cut short is skipped."""
    anchors = []
    with suppress(FileNotFoundError), path.open(encoding="utf-8") as fh:
        for line in fh:
            with suppress(ValueError, KeyError, TypeError):
                entry = json.loads(line)
                anchors.append(Anchor(int(entry["seq"]), str(entry["mac"])))
    return anchors


def _seal(conn: duckdb.DuckDBPyConnection, key: bytes, tail: tuple[int, str], anchor: Path) -> tuple[int, str]:
    """Move the pending rows into the chain after ``tail``, in the order they were written;
    the new tail."""
    pending = conn.execute(query("audit_pending_rows")).fetchall()
    for _, at, actor, action, target, details in pending:
        row = next_row(key, *tail, at, actor, action, target, json.loads(details))
        conn.execute(query("audit_insert"), [row.seq, row.at, row.actor, row.action, row.target, row.details,
                                             row.prev_hash, row.row_hash])
        tail = (row.seq, row.row_hash)
        _OPEN.head = (anchor, row)
    if pending:
        conn.execute(query("audit_pending_delete"), [pending[-1][0]])
    return tail


def _append(conn: duckdb.DuckDBPyConnection, actor: str, action: str, target: str, details: dict,
            make_key: bool) -> AuditRow | None:
    if getattr(_OPEN, "head", False) is False:
        raise RuntimeError("append_audit belongs inside db.transaction(), which anchors the row after COMMIT")
    files = chain_files(database_file(conn))
    tail = conn.execute(query("audit_tail")).fetchone()
    try:
        key = _audit_key(files.key, create=make_key or tail is None)
    except PermissionError:  # a flow run under service.run_user: the service seals the row
        conn.execute(query("audit_pending_insert"), [now(), actor, action, target, canonical_details(details)])
        _OPEN.bell = files.bell
        return None
    tail = _seal(conn, key, tail or (0, GENESIS_HASH), files.anchor)
    row = next_row(key, *tail, now(), actor, action, target, details)
    conn.execute(query("audit_insert"), [row.seq, row.at, row.actor, row.action, row.target, row.details,
                                         row.prev_hash, row.row_hash])
    _OPEN.head = (files.anchor, row)
    return row


def append_audit(conn: duckdb.DuckDBPyConnection, actor: str, action: str, target: str,
                 details: dict) -> AuditRow | None:
    """Append one keyed audit row; call inside the transaction whose work it records. The
    key is made with the chain's first row, and its absence later is an error. A process
    that may not read the key (a flow run under ``service.run_user``) leaves the row pending
    (None) and rings the bell after COMMIT; the service seals it."""
    return _append(conn, actor, action, target, details, make_key=False)


def seal_pending(conn: duckdb.DuckDBPyConnection) -> int:
    """Seal the rows flow runs left pending into the chain under the key (inside a
    transaction); how many were sealed."""
    if getattr(_OPEN, "head", False) is False:
        raise RuntimeError("seal_pending belongs inside db.transaction(), which anchors the rows after COMMIT")
    files = chain_files(database_file(conn))
    before = conn.execute(query("audit_tail")).fetchone()
    if not conn.execute(query("audit_pending_rows")).fetchone():
        return 0
    key = _audit_key(files.key, create=before is None)
    after = _seal(conn, key, before or (0, GENESIS_HASH), files.anchor)
    return after[0] - (before[0] if before else 0)


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


def _carry_over_chain(conn: duckdb.DuckDBPyConnection) -> None:
    """Bind the unkeyed rows' head under the key with one audited ``audit.carry_over`` row."""
    rows = audit_rows(conn)
    if rows:
        unaudited = [row[0] for row in conn.execute(query("audit_cross_check")).fetchall()]
        _append(conn, "facelead", CARRY_OVER, "audit_log", carry_over_details(rows, unaudited), make_key=True)


def audit_rows(conn: duckdb.DuckDBPyConnection) -> list[AuditRow]:
    return [AuditRow(*row) for row in conn.execute(query("audit_rows")).fetchall()]


def audit_head(conn: duckdb.DuckDBPyConnection) -> Anchor:
    """The chain's head, for an external witness to keep."""
    tail = conn.execute(query("audit_tail")).fetchone()
    return Anchor(*tail) if tail else Anchor(0, GENESIS_HASH)


def verify_audit(conn: duckdb.DuckDBPyConnection, witnesses: tuple[Anchor, ...] = ()) -> ChainVerdict:
    """The chain checked under its key against its anchor log and any heads a witness kept,
    then the data tables against the log (less what the carry-over recorded as unaudited)."""
    files = chain_files(database_file(conn))
    rows = audit_rows(conn)
    try:
        key = secret_key(files.key, create=False)
    except FileNotFoundError:
        return ChainVerdict(len(rows), 1 if rows else None, f"{files.key}: the audit key is missing", "")
    except PermissionError:
        return ChainVerdict(len(rows), 1 if rows else None, f"{files.key}: this account may not read the audit "
                                                            "key, so the chain is unchecked; verify as the service", "")
    except ForeignKeyFolder as exc:
        return ChainVerdict(len(rows), 1 if rows else None, str(exc), "")
    anchors = read_anchors(files.anchor)
    if rows and not anchors:
        return ChainVerdict(len(rows), rows[-1].seq, f"{files.anchor}: the anchor log is missing or empty", "")
    verdict = verify_chain(rows, key, [*anchors, *witnesses])
    carry = next((r for r in rows if r.action == CARRY_OVER), None)
    known = set(json.loads(carry.details)["unaudited_records"]) if carry else set()
    problems = tuple(p for (p,) in conn.execute(query("audit_cross_check")).fetchall() if p not in known)
    return ChainVerdict(verdict.rows, verdict.first_broken, verdict.reason, verdict.head_mac, problems,
                        verdict.unanchored_rows)


# -- galleries, models, enrollment --------------------------------------------------------

def ensure_gallery(conn: duckdb.DuckDBPyConnection, gallery_id: str) -> None:
    conn.execute(query("ensure_gallery"), [gallery_id, now()])


def register_model(conn: duckdb.DuckDBPyConnection, model_id: str, manifest_id: str, role: str, sha256: str,
                   output_dim: int | None, licence: str) -> None:
    conn.execute(query("register_model"), [model_id, manifest_id, role, sha256, output_dim, licence, now()])


def known_hashes(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, suite_version: str) -> set[str]:
    """Content hashes this gallery has enrolled or refused for this model (quality refusals
    only if made by gallery suite ``suite_version``)."""
    rows = conn.execute(query("known_hashes"), {"gallery_id": gallery_id, "model_id": model_id,
                                                "suite_version": suite_version}).fetchall()
    return {row[0] for row in rows}


def start_enrollment_run(conn: duckdb.DuckDBPyConnection, run_id: str, gallery_id: str, model_id: str,
                         source: str, actor: str) -> None:
    conn.execute(query("start_enrollment_run"), [run_id, gallery_id, model_id, source, actor, now()])


def finish_enrollment_run(conn: duckdb.DuckDBPyConnection, run_id: str, seen: int, enrolled: int,
                          duplicates: int, refused: int) -> None:
    conn.execute(query("finish_enrollment_run"), [now(), seen, enrolled, duplicates, refused, run_id])


def insert_enrolled(conn: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    """Insert subjects, images, faces, embeddings and enrollments from one Arrow batch."""
    with registered(conn, "enrolled_batch", batch):
        conn.execute(query("insert_enrolled"))


def insert_refusals(conn: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    with registered(conn, "refused_batch", batch):
        conn.execute(query("insert_refusals"))


def insert_quality(conn: duckdb.DuckDBPyConnection, validations: pa.Table, results: pa.Table) -> None:
    """Insert quality verdicts: one row per face checked and one per expectation."""
    with registered(conn, "validation_batch", validations), registered(conn, "result_batch", results):
        conn.execute(query("insert_quality"))


def _vectors(conn: duckdb.DuckDBPyConnection, name: str, params: list | dict) -> GalleryVectors:
    """The faces a query returning face_id, subject_id, vector names."""
    table = conn.sql(query(name), params=params).to_arrow_table()
    if not table.num_rows:
        return GalleryVectors([], [], np.zeros((0, 0), np.float32))
    values = table.column("vector").combine_chunks()
    matrix = values.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(table.num_rows, -1)
    return GalleryVectors(table.column("face_id").to_pylist(), table.column("subject_id").to_pylist(), matrix)


def gallery_vectors(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, as_of: datetime) -> GalleryVectors:
    """Every face enrolled up to ``as_of``, and not removed."""
    return _vectors(conn, "gallery_vectors", {"gallery_id": gallery_id, "model_id": model_id, "as_of": as_of})


def gallery_size(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str) -> int:
    return conn.execute(query("gallery_size"), [gallery_id, model_id]).fetchone()[0]


def remove_subject(conn: duckdb.DuckDBPyConnection, gallery_id: str, subject_id: str) -> list[str]:
    """Hide a subject's faces in a gallery from every search; the face ids removed."""
    return [row[0] for row in conn.execute(query("remove_subject"), [gallery_id, subject_id]).fetchall()]


# -- index builds -------------------------------------------------------------------------

def active_build(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str) -> dict | None:
    """The serving index build of a gallery and model, or None."""
    return _one(conn.execute(query("active_build"), [gallery_id, model_id]))


def record_build(conn: duckdb.DuckDBPyConnection, build: IndexBuildRecord, members: pa.Table) -> None:
    """Make ``build`` the serving build of its gallery and model (call inside a transaction)."""
    conn.execute(query("retire_builds"), [build.gallery_id, build.model_id])
    conn.execute(query("insert_build"), parameters(build))
    with registered(conn, "member_batch", members):
        conn.execute(query("insert_members"), [build.build_id])


# A transaction that enrolled faces may have started before a build read its gallery and
# committed after: its faces carry the earlier time yet are not in the build. Enrollment
# transactions are one batch long (about a second); ten minutes is far beyond any.
IN_FLIGHT_MARGIN = timedelta(minutes=10)


def delta_vectors(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, build: dict,
                  as_of: datetime) -> GalleryVectors:
    """The faces enrolled since ``build`` read its gallery and up to ``as_of``, not removed
    and not in it. Looked for among those enrolled since the build's snapshot less
    ``IN_FLIGHT_MARGIN`` (a build from before snapshots were recorded: all), so that the
    usual answer, none, costs a range scan and not a join with the build's members."""
    since = build["snapshot_at"] - IN_FLIGHT_MARGIN if build.get("snapshot_at") else datetime.min.replace(tzinfo=timezone.utc)
    params = {"gallery_id": gallery_id, "model_id": model_id, "since": since, "as_of": as_of}
    if not conn.execute(query("recent_enrollments"), params).fetchall()[0][0]:
        return GalleryVectors([], [], np.zeros((0, 0), np.float32))
    return _vectors(conn, "delta_vectors", {**params, "build_id": build["build_id"]})


def get_build(conn: duckdb.DuckDBPyConnection, build_id: str) -> dict | None:
    return _one(conn.execute(query("get_build"), [build_id]))


def search_record(conn: duckdb.DuckDBPyConnection, search_id: str) -> dict | None:
    """A past search with its candidates (list of {rank, face_id, score}), or None."""
    return _one(conn.execute(query("search_record"), [search_id]))


def removed_members(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, build_id: str) -> set[tuple[int, int]]:
    """(shard, row) of build members removed or purged since the build."""
    return set(conn.execute(query("removed_members"), [gallery_id, model_id, build_id]).fetchall())


# -- searches -------------------------------------------------------------------------------

CANDIDATE_SCHEMA = pa.schema([("search_id", pa.string()), ("rank", pa.int32()), ("face_id", pa.string()),
                              ("subject_id", pa.string()), ("score", pa.float64())])  # CandidateRecord's fields


def insert_search(conn: duckdb.DuckDBPyConnection, record: SearchRecord, candidates: list[CandidateRecord]) -> None:
    """Persist a search and its ranked candidates."""
    conn.execute(query("insert_search"), parameters(record))
    batch = pa.Table.from_pylist([parameters(c) for c in candidates], schema=CANDIDATE_SCHEMA)
    with registered(conn, "candidate_batch", batch):
        conn.execute(query("insert_candidates"))


def _dicts(cursor: duckdb.DuckDBPyConnection) -> list[dict]:
    names = [d[0] for d in cursor.description]
    return [dict(zip(names, row)) for row in cursor.fetchall()]


def _one(cursor: duckdb.DuckDBPyConnection) -> dict | None:
    rows = _dicts(cursor)
    return rows[0] if rows else None


def candidate_sheet_rows(conn: duckdb.DuckDBPyConnection, search_id: str) -> list[dict]:
    return _dicts(conn.execute(query("candidate_sheet"), [search_id]))


class QueryRefused(Refusal, ValueError):
    """An auditor's query that the sandbox did not run: not one SELECT (``read_only``), past
    its time limit (``time_limit``), or bad SQL, a file, setting or memory it may not use
    (``query``)."""


def _identifier(name: str) -> str:
    return '"' + name.replace('"', '""') + '"'


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
            rows = conn.sql(f"SELECT {', '.join(map(_identifier, columns))} FROM {_identifier(table)}").to_arrow_table()
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


def case_records(conn: duckdb.DuckDBPyConnection, case_number: str) -> dict[str, list[dict]]:
    """Everything recorded about a case: requests, searches, candidates, determinations, audit rows."""
    return {
        "requests": _dicts(conn.execute(query("case_requests"), [case_number])),
        "searches": _dicts(conn.execute(query("case_searches"), [case_number])),
        "candidates": _dicts(conn.execute(query("case_candidates"), [case_number])),
        "determinations": _dicts(conn.execute(query("case_determinations"), [case_number])),
        "audit": _dicts(conn.execute(query("case_audit"), {"case_number": case_number})),
    }


def oversight(conn: duckdb.DuckDBPyConnection, start: datetime, end: datetime) -> list[dict]:
    """Per offense code: requests filed in [start, end) and what became of them (oversight.sql)."""
    return _dicts(conn.execute(query("oversight"), {"start": start, "end": end}))


@dataclass(frozen=True)
class PurgeDone:
    """What a purge removed, for its audit row and the files it must delete; no biometric data."""

    faces: int
    images: int
    subjects: int
    probe_images: int
    sheets: list[str]            # searches whose stored sheets showed purged faces or probes
    build_folders: list[str]     # index builds deleted (relative to the database's folder)
    exports: list[dict]          # case exports made earlier that showed a purged face


def purge(conn: duckdb.DuckDBPyConnection, probe_cutoff: datetime, retired_build_cutoff: datetime) -> PurgeDone:
    """Delete removed faces' biometric data and probe thumbnails older than ``probe_cutoff``;
    reduce the quality, candidate and enrollment rows that named their subject to ids; mark
    deleted every index build that holds a purged face and every build retired before
    ``retired_build_cutoff``. Call inside a transaction; the files are the caller's."""
    conn.execute(query("purge_plan"))
    conn.execute(query("purge_builds"), [retired_build_cutoff])
    faces, images, subjects = conn.execute(query("purge_counts")).fetchone()
    sheets = [row[0] for row in conn.execute(query("purge_sheets")).fetchall()]
    exports = _dicts(conn.execute(query("purge_exports")))
    folders = [row[0] for row in conn.execute("SELECT folder FROM purge_builds ORDER BY folder").fetchall()]
    conn.execute(query("purge_apply"))
    probes = [row[0] for row in conn.execute(query("purge_probes"), [probe_cutoff]).fetchall()]
    return PurgeDone(faces, images, subjects, len(probes), sorted(set(sheets) | set(probes)), folders, exports)


def count_users(conn: duckdb.DuckDBPyConnection) -> int:
    return conn.execute(query("count_users")).fetchone()[0]


def insert_user(conn: duckdb.DuckDBPyConnection, record: UserRecord) -> None:
    conn.execute(query("insert_user"), parameters(record))


def get_user(conn: duckdb.DuckDBPyConnection, user_id: str) -> StoredUser | None:
    row = _one(conn.execute(query("get_user"), [user_id]))
    return None if row is None else StoredUser(**row)


def list_users(conn: duckdb.DuckDBPyConnection) -> list[dict]:
    return _dicts(conn.execute(query("list_users")))


def set_secret(conn: duckdb.DuckDBPyConnection, user_id: str, salt: bytes, hashed: bytes) -> bool:
    """Store the user's own secret and spend their enrollment code; False if no enabled user."""
    return conn.execute(query("set_secret"), {"user_id": user_id, "salt": salt, "hash": hashed, "at": now()}
                        ).fetchone() is not None


def set_enrollment_code(conn: duckdb.DuckDBPyConnection, user_id: str, salt: bytes, hashed: bytes,
                        expires_at: datetime) -> bool:
    """A fresh enrollment code for the user, whose secret stops working; False if no enabled user."""
    return conn.execute(query("set_enrollment_code"), {
        "user_id": user_id, "salt": salt, "hash": hashed, "expires_at": expires_at}).fetchone() is not None


def record_sign_in_failure(conn: duckdb.DuckDBPyConnection, claimed_user: str, address: str) -> datetime:
    """Count one failed sign-in now; returns its time (``forget_sign_in_failure`` takes it)."""
    failed_at = now()
    conn.execute(query("insert_sign_in_failure"), [claimed_user, address, failed_at])
    return failed_at


def forget_sign_in_failure(conn: duckdb.DuckDBPyConnection, claimed_user: str, address: str,
                           failed_at: datetime) -> None:
    """Take back a failure counted before its secret was checked, once the secret matched."""
    conn.execute(query("delete_sign_in_failure"),
                 {"claimed_user": claimed_user, "address": address, "failed_at": failed_at})


def recent_sign_in_failures(conn: duckdb.DuckDBPyConnection, claimed_user: str, address: str,
                            since: datetime) -> tuple[int, int, datetime | None]:
    """(failures for the claimed user from the address, failures from the address, the
    pair's last failure) since ``since``."""
    return conn.execute(query("recent_sign_in_failures"), {
        "claimed_user": claimed_user, "address": address, "since": since}).fetchone()


def spend_grant(conn: duckdb.DuckDBPyConnection, nonce: str, user_id: str, action: str) -> bool:
    """Mark a grant spent; False if it was spent before (a replay)."""
    return conn.execute(query("spend_grant"), [nonce, user_id, action, now()]).fetchone() is not None


def set_user_roles(conn: duckdb.DuckDBPyConnection, user_id: str, roles: list[str],
                   certified_until: date | None) -> bool:
    """Replace an enabled user's roles and certification; False if no enabled user."""
    return conn.execute(query("set_user_roles"), {"user_id": user_id, "roles": roles,
                                                  "certified_until": certified_until}).fetchone() is not None


def disable_user(conn: duckdb.DuckDBPyConnection, user_id: str) -> bool:
    """True if the user was enabled and now is not."""
    return conn.execute(query("disable_user"), [now(), user_id]).fetchone() is not None


def insert_request(conn: duckdb.DuckDBPyConnection, record: RequestRecord) -> None:
    conn.execute(query("insert_request"), parameters(record))


def get_request(conn: duckdb.DuckDBPyConnection, request_id: str) -> StoredRequest | None:
    row = _one(conn.execute(query("get_request"), [request_id]))
    return None if row is None else StoredRequest(**row)


def decide_request(conn: duckdb.DuckDBPyConnection, request_id: str, decision: str, user_id: str, reason: str) -> bool:
    """Record the decision on a pending request; False if it was no longer pending."""
    return conn.execute(query("decide_request"), {
        "request_id": request_id, "decision": decision, "decided_by": user_id, "decided_at": now(),
        "decision_reason": reason}).fetchone() is not None


def claim_request(conn: duckdb.DuckDBPyConnection, request_id: str, search_id: str) -> bool:
    """Tie the approved, not yet run request to ``search_id``; False if it cannot run."""
    return conn.execute(query("claim_request"), {"request_id": request_id, "search_id": search_id}).fetchone() is not None


def search_summary(conn: duckdb.DuckDBPyConnection, search_id: str) -> dict | None:
    return _one(conn.execute(query("search_summary"), [search_id]))


def candidate_at_rank(conn: duckdb.DuckDBPyConnection, search_id: str, rank: int) -> str | None:
    row = conn.execute(query("candidate_at_rank"), [search_id, rank]).fetchone()
    return row[0] if row else None


def insert_determination(conn: duckdb.DuckDBPyConnection, search_id: str, stage: str, user_id: str,
                         face_id: str | None) -> None:
    conn.execute(query("insert_determination"), [search_id, stage, user_id, face_id, now()])


def determinations(conn: duckdb.DuckDBPyConnection, search_id: str) -> dict[str, dict]:
    """{stage: {"user_id", "face_id", "recorded_at"}} recorded for the search."""
    return {row.pop("stage"): row for row in _dicts(conn.execute(query("determinations"), [search_id]))}


def table_counts(conn: duckdb.DuckDBPyConnection) -> dict[str, int]:
    return dict(conn.execute(query("table_counts")).fetchall())


def insert_evaluation(conn: duckdb.DuckDBPyConnection, record: EvaluationRecord,
                      calibration: Calibration | None) -> None:
    """An evaluation row and the calibration drawn from its impostor scores, if any."""
    conn.execute(query("insert_evaluation"), parameters(record))
    if calibration is not None:
        insert_calibration(conn, calibration)


def insert_calibration(conn: duckdb.DuckDBPyConnection, calibration: Calibration,
                       closest: list[PossibleDuplicate] = ()) -> None:
    """A calibration and, for a gallery's, its closest subject pairs."""
    scores = pa.ListArray.from_arrays([0, len(calibration.scores)], pa.array(calibration.scores, pa.float32()))
    row = pa.table({"calibration_id": [calibration.calibration_id], "model_id": [calibration.model_id],
                    "source": [calibration.source], "impostor_scores": scores, "created_at": [calibration.created_at],
                    "gallery_id": pa.array([calibration.gallery_id], pa.string()), "pairs": [calibration.pairs],
                    "faces": pa.array([calibration.faces], pa.int32())})
    with registered(conn, "calibration_batch", row):
        conn.execute(query("insert_calibration"))
    if closest:
        batch = pa.Table.from_pylist([{"calibration_id": calibration.calibration_id, "gallery_id": calibration.gallery_id,
                                       "rank": d.rank, "subject_a": d.subject_a, "face_a": d.face_a,
                                       "subject_b": d.subject_b, "face_b": d.face_b, "score": d.score} for d in closest])
        with registered(conn, "duplicates_batch", batch):
            conn.execute(query("insert_possible_duplicates"))


def get_evaluation(conn: duckdb.DuckDBPyConnection, evaluation_id: str) -> dict | None:
    return _one(conn.execute(query("get_evaluation"), [evaluation_id]))


def latest_calibration(conn: duckdb.DuckDBPyConnection, model_id: str, gallery_id: str) -> Calibration | None:
    """The calibration searches of ``gallery_id`` read chances from (latest_calibration.sql)."""
    found = conn.sql(query("latest_calibration"), params={"model_id": model_id, "gallery_id": gallery_id}).to_arrow_table()
    if not found.num_rows:
        return None
    row = found.slice(0, 1)
    scores = row.column("impostor_scores").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    fields = row.drop(["impostor_scores"]).to_pylist()[0]
    return Calibration(**fields, scores=scores.astype(np.float32, copy=False))


def possible_duplicates(conn: duckdb.DuckDBPyConnection, gallery_id: str) -> list[PossibleDuplicate]:
    """The gallery's newest calibration's closest subject pairs with their newest marks."""
    cursor = conn.execute(query("possible_duplicates"), {"gallery_id": gallery_id})
    return [PossibleDuplicate(**row) for row in _dicts(cursor)]


def same_person_marks(conn: duckdb.DuckDBPyConnection, gallery_id: str) -> list[tuple[str, str]]:
    return conn.execute(query("same_person_marks"), {"gallery_id": gallery_id}).fetchall()


def subject_in_gallery(conn: duckdb.DuckDBPyConnection, gallery_id: str, subject_id: str) -> bool:
    return conn.execute(query("subject_in_gallery"), {"gallery_id": gallery_id, "subject_id": subject_id}).fetchone()[0]


def insert_pair_mark(conn: duckdb.DuckDBPyConnection, mark: dict) -> None:
    conn.execute(query("insert_pair_mark"), mark)


def insert_subject_attributes(conn: duckdb.DuckDBPyConnection, gallery_id: str, run_id: str,
                              attributes: dict[str, dict[str, str]]) -> int:
    """Store each subject's attribute values from one enrollment run; the rows written."""
    recorded = now()
    rows = [{"gallery_id": gallery_id, "subject_id": subject, "name": name, "value": value, "run_id": run_id,
             "recorded_at": recorded} for subject, values in sorted(attributes.items()) for name, value in sorted(values.items())]
    if rows:
        with registered(conn, "attribute_batch", pa.Table.from_pylist(rows)):
            conn.execute(query("insert_subject_attributes"))
    return len(rows)


def gallery_attributes(conn: duckdb.DuckDBPyConnection, gallery_id: str, name: str) -> dict[str, str]:
    """Subject id -> its newest value of attribute ``name`` in the gallery."""
    return dict(conn.execute(query("gallery_attributes"), {"gallery_id": gallery_id, "name": name}).fetchall())


def pending_requests(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[dict]:
    return _dicts(conn.execute(query("pending_requests"), {"user_id": user_id}))


def own_requests(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[dict]:
    return _dicts(conn.execute(query("own_requests"), {"user_id": user_id}))


def galleries(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in conn.execute(query("galleries")).fetchall()]


def awaiting_review(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[dict]:
    return _dicts(conn.execute(query("awaiting_review"), {"user_id": user_id}))


def released_leads(conn: duckdb.DuckDBPyConnection, user_id: str) -> list[dict]:
    return _dicts(conn.execute(query("released_leads"), {"user_id": user_id}))


def search_history(conn: duckdb.DuckDBPyConnection, filters: dict, limit: int) -> list[dict]:
    """search_history rows matching ``filters`` (case_number, analyst, offense_code, start, end; None: any)."""
    return _dicts(conn.execute(query("search_history_page"), {**filters, "limit": limit}))


def lead_candidate(conn: duckdb.DuckDBPyConnection, search_id: str, face_id: str) -> dict | None:
    return _one(conn.execute(query("lead_candidate"), {"search_id": search_id, "face_id": face_id}))
