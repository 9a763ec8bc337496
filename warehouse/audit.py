"""The audit chain's arithmetic: canonical row content, its keyed MAC, and the check of a
chain against its anchors. Pure, no database, no files.

Each row's MAC is HMAC-SHA256, under a key that lives outside the database, of a JSON array
``[prev_mac, seq, at, actor, action, target, details]``: no field can run into another, and
nobody without the key can write a row that verifies. After every write the head (seq, MAC)
goes to an anchor log outside the database, so removing rows at the end, or all of them, is
seen too. Rows written before the chain was keyed keep their unkeyed SHA-256 (``legacy_hash``);
the one ``audit.carry_over`` row binds their head under the key.
"""

from __future__ import annotations

import hmac
import json
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Any

from facelead.digest import sha256_hex

GENESIS_HASH = "0" * 64
CARRY_OVER = "audit.carry_over"


@dataclass(frozen=True)
class AuditRow:
    """One audit event; ``details`` is canonical JSON text, ``row_hash`` its MAC."""

    seq: int
    at: datetime
    actor: str
    action: str
    target: str
    details: str
    prev_hash: str
    row_hash: str


@dataclass(frozen=True)
class Anchor:
    """A head of the chain as written outside the database (or handed to a witness)."""

    seq: int
    mac: str


@dataclass(frozen=True)
class ChainVerdict:
    """Result of checking the chain: ``first_broken`` is the seq where the chain stops being
    trustworthy, ``problems`` the records and audit rows that do not match each other."""

    rows: int
    first_broken: int | None
    reason: str
    head_mac: str
    problems: tuple[str, ...] = ()
    unanchored_rows: int = 0

    @property
    def ok(self) -> bool:
        return self.first_broken is None and not self.problems


AUDITED_CHARS = 1000  # a text of an audit row longer than this is cut; its length and SHA-256 stay


def bounded(value: Any) -> Any:
    """``value`` with every text longer than ``AUDITED_CHARS`` (in it, at any depth) cut to
    that many characters and followed by its length and SHA-256, so a row stays small and
    still proves what was sent."""
    if isinstance(value, str) and len(value) > AUDITED_CHARS:
        return f"{value[:AUDITED_CHARS]}… [cut: {len(value):,} characters, sha256 {sha256_hex(value.encode())}]"
    if isinstance(value, dict):
        return {bounded(k): bounded(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [bounded(v) for v in value]
    return value


def canonical_details(details: dict) -> str:
    """Stable JSON: sorted keys, no whitespace, UTF-8 kept, non-JSON values as strings."""
    return json.dumps(details, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)


def canonical_time(at: datetime) -> str:
    return at.astimezone(timezone.utc).isoformat(timespec="microseconds")


def row_mac(key: bytes, prev_mac: str, seq: int, at: datetime, actor: str, action: str, target: str,
            details: str) -> str:
    """HMAC-SHA256 under ``key`` of the row's fields as one JSON array."""
    content = json.dumps([prev_mac, seq, canonical_time(at), actor, action, target, details],
                         ensure_ascii=False, separators=(",", ":"))
    return hmac.new(key, content.encode("utf-8"), "sha256").hexdigest()


def legacy_hash(prev_hash: str, seq: int, at: datetime, actor: str, action: str, target: str, details: str) -> str:
    """The unkeyed SHA-256 of rows written before the chain was keyed (fields joined by 0x1f)."""
    content = "\x1f".join([prev_hash, str(seq), canonical_time(at), actor, action, target, details])
    return sha256_hex(content)


def next_row(key: bytes, prev_seq: int, prev_mac: str, at: datetime, actor: str, action: str, target: str,
             details: dict) -> AuditRow:
    """The row that follows (prev_seq, prev_mac) in the chain."""
    text = canonical_details(details)
    seq = prev_seq + 1
    return AuditRow(seq, at, actor, action, target, text, prev_mac,
                    row_mac(key, prev_mac, seq, at, actor, action, target, text))


def carry_over_details(rows: Sequence[AuditRow], unaudited: Sequence[str]) -> dict:
    """What the carry-over row binds: the unkeyed rows' count and head, and the records that
    had no audit row when the chain was keyed (so they are not reported ever after)."""
    return {"legacy_rows": len(rows), "legacy_head": rows[-1].row_hash if rows else GENESIS_HASH,
            "unaudited_records": sorted(unaudited)}


def _broken(rows: Sequence[AuditRow], seq: int, reason: str, head: str) -> ChainVerdict:
    return ChainVerdict(len(rows), seq, reason, head)


def verify_chain(rows: Sequence[AuditRow], key: bytes, anchors: Sequence[Anchor] = ()) -> ChainVerdict:
    """Recompute the chain in seq order, then hold it against every anchor; the verdict names
    the first row that breaks it."""
    carry = next((r for r in rows if r.action == CARRY_OVER), None)
    prev_seq, prev = 0, GENESIS_HASH
    for row in rows:
        if row.seq != prev_seq + 1:
            return _broken(rows, row.seq, f"sequence gap: expected {prev_seq + 1}, found {row.seq} (rows deleted)", prev)
        if row.prev_hash != prev:
            return _broken(rows, row.seq, "prev_hash does not match the previous row's MAC (rows removed or inserted)", prev)
        fields = (row.seq, row.at, row.actor, row.action, row.target, row.details)
        legacy = carry is not None and row.seq < carry.seq
        expected = legacy_hash(prev, *fields) if legacy else row_mac(key, prev, *fields)
        if not hmac.compare_digest(row.row_hash, expected):
            return _broken(rows, row.seq, "row content does not match its MAC (row altered or forged)", prev)
        if row.action == CARRY_OVER:
            if row is not carry:
                return _broken(rows, row.seq, "a second carry-over row", prev)
            bound = json.loads(row.details)
            if (bound.get("legacy_rows"), bound.get("legacy_head")) != (row.seq - 1, prev):
                return _broken(rows, row.seq, "the carry-over row binds other unkeyed rows than those before it", prev)
        prev_seq, prev = row.seq, row.row_hash
    by_seq = {row.seq: row.row_hash for row in rows}
    for anchor in sorted(anchors, key=lambda a: a.seq):
        if anchor.seq not in by_seq:
            return _broken(rows, anchor.seq, f"row {anchor.seq} was anchored but is gone "
                                             f"(the log was truncated or emptied)", prev)
        if not hmac.compare_digest(by_seq[anchor.seq], anchor.mac):
            return _broken(rows, anchor.seq, f"row {anchor.seq} differs from its anchor (the chain was rewritten)", prev)
    last_anchored = max((a.seq for a in anchors), default=0)
    return ChainVerdict(len(rows), None, "chain intact", prev, unanchored_rows=max(0, prev_seq - last_anchored))
