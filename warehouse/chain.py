"""The tamper-evident audit chain in the warehouse: keyed rows appended in the transaction
whose work they record, anchored after COMMIT outside the database, pending rows of flow
runs sealed by the service, and the chain verified against its key, anchors and witnesses."""

from __future__ import annotations

import functools
import json
import os
from contextlib import suppress
from dataclasses import dataclass
from pathlib import Path

import duckdb

from facelead.files import ForeignKeyFolder, secret_key, secrets_dir, shared_with_runs
from warehouse.audit import (
    CARRY_OVER,
    GENESIS_HASH,
    Anchor,
    AuditRow,
    ChainVerdict,
    bounded,
    canonical_details,
    carry_over_details,
    next_row,
    verify_chain,
)
from warehouse.sql import TerminalDbError, after_commit, in_transaction, now, query


@dataclass(frozen=True)
class ChainFiles:
    """Where a database's audit chain keeps what must not live in the database."""

    key: Path     # owner-only HMAC key
    anchor: Path  # append-only log of committed heads, one JSON line each
    bell: Path    # touched after a commit left rows in audit_pending for the service to seal


def chain_files(database: Path) -> ChainFiles:
    return ChainFiles(secrets_dir(database) / "audit.key", secrets_dir(database) / f"{database.name}.anchor",
                      database.with_name(database.name + ".pending"))


def share_with_runs(database: Path) -> None:
    """Where ``serve`` shares the database's folder with the flow runs' account, let its
    group write the file and its log, whatever the umask of the process that made them."""
    if shared_with_runs(database.parent):
        for file in (database, database.with_name(database.name + ".wal")):
            with suppress(FileNotFoundError):
                facts = file.stat()
                if facts.st_uid == os.geteuid() and facts.st_mode & 0o060 != 0o060:
                    file.chmod(0o660)


def adopt_anchor(database: Path) -> None:
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


def write_anchor(path: Path, row: AuditRow) -> None:
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
        after_commit("anchor", functools.partial(write_anchor, anchor, row))
    if pending:
        conn.execute(query("audit_pending_delete"), [pending[-1][0]])
    return tail


def _append(conn: duckdb.DuckDBPyConnection, actor: str, action: str, target: str, details: dict,
            make_key: bool) -> AuditRow | None:
    if not in_transaction():
        raise RuntimeError("append_audit belongs inside db.transaction(), which anchors the row after COMMIT")
    target, details = bounded(target), bounded(details)
    files = chain_files(database_file(conn))
    tail = conn.execute(query("audit_tail")).fetchone()
    try:
        key = _audit_key(files.key, create=make_key or tail is None)
    except PermissionError:  # a flow run under service.run_user: the service seals the row
        conn.execute(query("audit_pending_insert"), [now(), actor, action, target, canonical_details(details)])
        after_commit("bell", files.bell.touch)
        return None
    tail = _seal(conn, key, tail or (0, GENESIS_HASH), files.anchor)
    row = next_row(key, *tail, now(), actor, action, target, details)
    conn.execute(query("audit_insert"), [row.seq, row.at, row.actor, row.action, row.target, row.details,
                                         row.prev_hash, row.row_hash])
    after_commit("anchor", functools.partial(write_anchor, files.anchor, row))
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
    if not in_transaction():
        raise RuntimeError("seal_pending belongs inside db.transaction(), which anchors the rows after COMMIT")
    files = chain_files(database_file(conn))
    before = conn.execute(query("audit_tail")).fetchone()
    if not conn.execute(query("audit_pending_rows")).fetchone():
        return 0
    key = _audit_key(files.key, create=before is None)
    after = _seal(conn, key, before or (0, GENESIS_HASH), files.anchor)
    return after[0] - (before[0] if before else 0)


def carry_over_chain(conn: duckdb.DuckDBPyConnection) -> None:
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
