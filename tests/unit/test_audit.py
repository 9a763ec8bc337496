from dataclasses import replace
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from facelead.warehouse import db
from facelead.warehouse.audit import GENESIS_HASH, canonical_details, next_row, verify_chain

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)


def _chain(n: int):
    rows, seq, prev = [], 0, GENESIS_HASH
    for i in range(n):
        row = next_row(seq, prev, T0 + timedelta(seconds=i), "ana", f"action{i}", f"target{i}", {"i": i})
        rows.append(row)
        seq, prev = row.seq, row.row_hash
    return rows


def test_canonical_details_are_order_independent():
    assert canonical_details({"b": 1, "a": [1, "é"]}) == canonical_details({"a": [1, "é"], "b": 1}) == '{"a":[1,"é"],"b":1}'


def test_an_intact_chain_verifies_and_reports_its_head():
    rows = _chain(5)
    verdict = verify_chain(rows)
    assert verdict.ok and verdict.rows == 5 and verdict.head_hash == rows[-1].row_hash


@pytest.mark.parametrize("field,value", [("actor", "mallory"), ("action", "x"), ("target", "y"),
                                         ("details", '{"i":99}'), ("at", T0 + timedelta(days=1))])
def test_altering_any_field_names_that_row(field, value):
    rows = _chain(5)
    rows[2] = replace(rows[2], **{field: value})
    verdict = verify_chain(rows)
    assert verdict.first_broken == 3 and "altered" in verdict.reason


def test_a_deleted_row_is_a_sequence_gap():
    rows = _chain(5)
    del rows[1]
    assert verify_chain(rows).first_broken == 3


def test_a_rehashed_row_still_breaks_the_next_link():
    rows = _chain(4)
    forged = next_row(1, rows[0].row_hash, T0, "mallory", "hide", "t", {})
    rows[1] = forged
    verdict = verify_chain(rows)
    assert verdict.first_broken == 3 and "prev_hash" in verdict.reason


def test_audit_rows_round_trip_through_duckdb_and_tampering_is_found(tmp_path):
    path = tmp_path / "audit.duckdb"
    with db.open_db(path) as conn:
        for i in range(4):
            with db.transaction(conn):
                db.append_audit(conn, "ana", "search.run", f"search:{i}", {"k": 20, "note": "naïve"})
        assert db.verify_audit(conn).ok
    raw = duckdb.connect(str(path))
    raw.execute("UPDATE audit_log SET details = '{\"k\":50}' WHERE seq = 3")
    raw.close()
    with db.open_db(path, read_only=True) as conn:
        verdict = db.verify_audit(conn)
    assert verdict.first_broken == 3


def test_a_failed_transaction_leaves_no_audit_row(tmp_path):
    with db.open_db(tmp_path / "a.duckdb") as conn:
        with pytest.raises(RuntimeError):
            with db.transaction(conn):
                db.append_audit(conn, "ana", "x", "y", {})
                raise RuntimeError("boom")
        assert db.audit_rows(conn) == []
