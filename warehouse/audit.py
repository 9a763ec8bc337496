"""The audit chain's arithmetic: canonical row content and its hash. Pure, no database."""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass
from datetime import datetime, timezone

GENESIS_HASH = "0" * 64


@dataclass(frozen=True)
class AuditRow:
    """One audit event; ``details`` is canonical JSON text."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: str
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class ChainVerdict:
    """Result of checking the chain; ``first_broken`` is the seq of the first bad row."""

    rows: int
    first_broken: int | None
    reason: str
    head_hash: str

    @property
    def ok(self) -> bool:
        return self.first_broken is None


def canonical_details(details: dict) -> str:
    """Stable JSON: sorted keys, no whitespace, UTF-8 kept, non-JSON values as strings."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_time(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def row_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, target: str, details: str) -> str:
    """SHA-256 of the previous row's hash and this row's canonical content."""
    content = "\x1f".join([prev_hash, str(seq), canonical_time(at), actor, action, target, details])
    return hashlib.sha256(content.encode("utf-8")).hexdigest()


def next_row(prev_seq: int, prev_hash: str, at: datetime, actor: str, action: str, target: str, details: dict) -> AuditRow:
    """The row that follows (prev_seq, prev_hash) in the chain."""
    text = canonical_details(details)
    seq = prev_seq + 1
    return AuditRow(seq, at, actor, action, target, text, prev_hash, row_hash(prev_hash, seq, at, actor, action, target, text))


def verify_chain(rows: list[AuditRow]) -> ChainVerdict:
    """Recompute the chain in seq order and name the first row that breaks it."""
    prev_seq, prev_hash = 0, GENESIS_HASH
    for row in rows:
        if row.seq != prev_seq + 1:
            return ChainVerdict(len(rows), row.seq, f"sequence gap: expected {prev_seq + 1}, found {row.seq}", prev_hash)
        if row.prev_hash != prev_hash:
            return ChainVerdict(len(rows), row.seq, "prev_hash does not match the previous row's hash", prev_hash)
        expected = row_hash(prev_hash, row.seq, row.at, row.actor, row.action, row.target, row.details)
        if row.row_hash != expected:
            return ChainVerdict(len(rows), row.seq, "row content does not match its hash (row altered)", prev_hash)
        prev_seq, prev_hash = row.seq, row.row_hash
    return ChainVerdict(len(rows), None, "chain intact", prev_hash)
