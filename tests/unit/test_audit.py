import hashlib
import json
from dataclasses import replace
from datetime import datetime, timedelta, timezone

import duckdb
import pytest

from facelead.files import ForeignKeyFolder
from warehouse import chain, db
from warehouse.audit import (
    AUDITED_CHARS,
    CARRY_OVER,
    GENESIS_HASH,
    Anchor,
    AuditRow,
    bounded,
    canonical_details,
    carry_over_details,
    legacy_hash,
    next_row,
    row_mac,
    verify_chain,
)

T0 = datetime(2026, 1, 2, 3, 4, 5, 678901, tzinfo=timezone.utc)
KEY = b"k" * 32


def _chain(n: int, key: bytes = KEY):
    rows, seq, prev = [], 0, GENESIS_HASH
    for i in range(n):
        row = next_row(key, seq, prev, T0 + timedelta(seconds=i), "ana", f"action{i}", f"target{i}", {"i": i})
        rows.append(row)
        seq, prev = row.seq, row.row_hash
    return rows


def _head(rows):
    return Anchor(rows[-1].seq, rows[-1].row_hash)


def test_canonical_details_are_order_independent():
    assert canonical_details({"b": 1, "a": [1, "é"]}) == canonical_details({"a": [1, "é"], "b": 1}) == '{"a":[1,"é"],"b":1}'


def test_an_intact_chain_verifies_and_reports_its_head():
    rows = _chain(5)
    verdict = verify_chain(rows, KEY, [_head(rows)])
    assert verdict.ok and verdict.rows == 5 and verdict.head_mac == rows[-1].row_hash and verdict.unanchored_rows == 0


@pytest.mark.parametrize("field,value", [("actor", "mallory"), ("action", "x"), ("target", "y"),
                                         ("details", '{"i":99}'), ("at", T0 + timedelta(days=1))])
def test_altering_any_field_names_that_row(field, value):
    rows = _chain(5)
    rows[2] = replace(rows[2], **{field: value})
    verdict = verify_chain(rows, KEY)
    assert verdict.first_broken == 3 and "altered" in verdict.reason


def test_a_deleted_row_is_a_sequence_gap():
    rows = _chain(5)
    del rows[1]
    assert verify_chain(rows, KEY).first_broken == 3


def test_rewriting_and_rehashing_without_the_key_is_found():
    rows = _chain(4)
    forged = [replace(r, actor="mallory") for r in rows]
    seq, prev = 0, GENESIS_HASH
    for i, row in enumerate(forged):  # re-hashed as the old unkeyed chain would have allowed
        forged[i] = replace(row, prev_hash=prev, row_hash=legacy_hash(prev, row.seq, row.at, row.actor, row.action,
                                                                      row.target, row.details))
        prev = forged[i].row_hash
    assert verify_chain(forged, KEY).first_broken == 1
    rekeyed = _chain(4, key=b"m" * 32)  # or under a key of the attacker's own
    assert verify_chain(rekeyed, KEY).first_broken == 1


def test_a_forged_append_is_found():
    rows = _chain(3)
    rows.append(next_row(b"guess" * 8, 3, rows[-1].row_hash, T0, "mallory", "request.approve", "request:1", {}))
    verdict = verify_chain(rows, KEY)
    assert verdict.first_broken == 4 and "forged" in verdict.reason


def test_truncation_and_emptying_are_found_by_the_anchor():
    rows = _chain(6)
    anchors = [Anchor(r.seq, r.row_hash) for r in rows]
    truncated = verify_chain(rows[:4], KEY, anchors)
    assert truncated.first_broken == 5 and "truncated" in truncated.reason
    emptied = verify_chain([], KEY, anchors)
    assert emptied.first_broken == 1 and not emptied.ok
    assert verify_chain(rows, KEY, anchors[:4]).unanchored_rows == 2  # a crash between commit and anchor


def test_a_witness_head_catches_a_rewrite_back_to_an_earlier_state():
    rows = _chain(5)
    other = _chain(5, key=KEY)[:3] + [next_row(KEY, 3, _chain(3)[-1].row_hash, T0, "x", "y", "z", {})]
    assert verify_chain(other, KEY, [_head(rows)]).first_broken == 5
    assert verify_chain(rows[:4] + [replace(rows[4])], KEY, [Anchor(5, "0" * 64)]).first_broken == 5


def test_fields_cannot_run_into_each_other():
    """Under the old separator, ('a\x1fb', 'c') and ('a', 'b\x1fc') hashed alike; under the JSON array they differ."""
    one = row_mac(KEY, GENESIS_HASH, 1, T0, "a\x1fb", "c", "t", "{}")
    two = row_mac(KEY, GENESIS_HASH, 1, T0, "a", "b\x1fc", "t", "{}")
    assert legacy_hash(GENESIS_HASH, 1, T0, "a\x1fb", "c", "t", "{}") == legacy_hash(GENESIS_HASH, 1, T0, "a", "b\x1fc", "t", "{}")
    assert one != two


def _legacy_chain(n: int):
    rows, prev = [], GENESIS_HASH
    for i in range(n):
        at = T0 + timedelta(seconds=i)
        h = legacy_hash(prev, i + 1, at, "ana", "search.run", f"search:{i}", "{}")
        rows.append(replace(next_row(KEY, i, prev, at, "ana", "search.run", f"search:{i}", {}), row_hash=h))
        prev = h
    return rows


def test_a_carried_over_chain_verifies_and_binds_its_unkeyed_rows():
    legacy = _legacy_chain(3)
    carry = next_row(KEY, 3, legacy[-1].row_hash, T0, "facelead", CARRY_OVER, "audit_log", carry_over_details(legacy, []))
    rows = [*legacy, carry, next_row(KEY, 4, carry.row_hash, T0, "ana", "x", "y", {})]
    assert verify_chain(rows, KEY).ok
    tampered = [replace(legacy[0], actor="mallory")] + rows[1:]
    seq_prev = legacy_hash(GENESIS_HASH, 1, T0, "mallory", "search.run", "search:0", "{}")
    tampered[0] = replace(tampered[0], row_hash=seq_prev)
    relinked, prev = [], GENESIS_HASH
    for row in tampered[:3]:  # the unkeyed part re-hashed from the top
        h = legacy_hash(prev, row.seq, row.at, row.actor, row.action, row.target, row.details)
        relinked.append(replace(row, prev_hash=prev, row_hash=h))
        prev = h
    verdict = verify_chain([*relinked, replace(carry, prev_hash=prev), *rows[4:]], KEY)
    assert verdict.first_broken == 4  # the carry-over's MAC binds the old head


def test_an_unkeyed_chain_without_its_carry_over_row_is_refused():
    assert verify_chain(_legacy_chain(3), KEY).first_broken == 1


def test_audit_rows_round_trip_through_duckdb_and_tampering_is_found(tmp_path):
    path = tmp_path / "audit.duckdb"
    with db.open_db(path) as conn:
        for i in range(4):
            with db.transaction(conn):
                chain.append_audit(conn, "ana", "test.event", f"thing:{i}", {"k": 20, "note": "naïve"})
        assert chain.verify_audit(conn).ok
    assert (tmp_path / "secrets" / "audit.key").stat().st_mode & 0o777 == 0o600
    assert len(chain.read_anchors(chain.chain_files(path).anchor)) == 4
    raw = duckdb.connect(str(path))
    raw.execute("UPDATE audit_log SET details = '{\"k\":50}' WHERE seq = 3")
    raw.close()
    with db.open_db(path, read_only=True) as conn:
        verdict = chain.verify_audit(conn)
    assert verdict.first_broken == 3


def test_a_long_text_is_cut_to_its_start_its_length_and_its_hash_at_any_depth():
    sent = "SELECT " + "x" * 5_000_000
    digest = hashlib.sha256(sent.encode()).hexdigest()
    cut = bounded({"sql": sent, "parts": [sent, "short"], "n": 3, "none": None})
    assert cut["n"] == 3 and cut["none"] is None and cut["parts"][1] == "short"
    assert cut["sql"] == cut["parts"][0] == f"{sent[:AUDITED_CHARS]}… [cut: 5,000,007 characters, sha256 {digest}]"
    assert bounded("y" * AUDITED_CHARS) == "y" * AUDITED_CHARS  # up to the limit, kept whole


def test_a_row_a_caller_fills_with_megabytes_stays_small_and_verifies(tmp_path):
    path = tmp_path / "audit.duckdb"
    with db.open_db(path) as conn:
        with db.transaction(conn):
            chain.append_audit(conn, "ana", "audit.query.refused", "case:" + "9" * 2_000_000, {"sql": "z" * 10_000_000})
        [row] = chain.audit_rows(conn)
        assert len(row.target) + len(row.details) < 3 * AUDITED_CHARS and chain.verify_audit(conn).ok
    assert path.stat().st_size < 5_000_000


def test_a_failed_transaction_leaves_no_audit_row_and_no_anchor(tmp_path):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn:
        with pytest.raises(RuntimeError):
            with db.transaction(conn):
                chain.append_audit(conn, "ana", "x", "y", {})
                raise RuntimeError("boom")
        assert chain.audit_rows(conn) == []
    assert chain.read_anchors(chain.chain_files(path).anchor) == []


def test_an_audit_row_outside_a_transaction_is_refused(tmp_path):
    with db.open_db(tmp_path / "a.duckdb") as conn, pytest.raises(RuntimeError, match="transaction"):
        chain.append_audit(conn, "ana", "x", "y", {})


def _database_at_version_9(path):
    """A database as the release before the keyed chain left it: migrations 1-9, an unkeyed chain."""
    raw = duckdb.connect(str(path))
    raw.execute(db.query("schema_migrations"))
    for version, name, sql in db.migrations():
        if version < db.KEYED_AUDIT_VERSION:
            raw.execute(sql)
            raw.execute(db.query("record_migration"), [version, name])
    for row in _legacy_chain(3):
        raw.execute(db.query("audit_insert"), [row.seq, row.at, row.actor, row.action, row.target, row.details,
                                               row.prev_hash, row.row_hash])
    raw.execute("INSERT INTO searches (search_id, case_number, gallery_id, model_id, detector_id, method, k, "
                "gallery_size, probe_sha256, probe_path, probe_face_index, probe_face_count, probe_box, "
                "probe_thumbnail, actor, created_at) VALUES ('old-unaudited', 'C', 'g', 'm', 'd', 'exact', 1, 1, "
                "'x', 'p', 0, 1, [0, 0, 1, 1], ''::BLOB, 'ana', now())")
    raw.close()


def test_the_migration_carries_an_unkeyed_chain_over_once_and_audits_it(tmp_path):
    path = tmp_path / "old.duckdb"
    _database_at_version_9(path)
    with db.open_db(path) as conn:
        rows = chain.audit_rows(conn)
        verdict = chain.verify_audit(conn)
    carry = rows[3]
    assert (carry.seq, carry.action, carry.actor) == (4, CARRY_OVER, "facelead")
    bound = json.loads(carry.details)
    assert bound["legacy_rows"] == 3 and bound["legacy_head"] == rows[2].row_hash
    # "search:0..2" never existed and one search has no audit row: recorded once, not reported ever after
    assert "search old-unaudited: no search.run audit row" in bound["unaudited_records"]
    assert verdict.ok, verdict
    with db.open_db(path) as conn:  # opening again carries nothing over again
        assert [r.action for r in chain.audit_rows(conn)].count(CARRY_OVER) == 1


def test_verify_holds_the_data_tables_against_the_log(tmp_path):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn, db.transaction(conn):
        chain.append_audit(conn, "ana", "search.run", "search:never-made", {})
    raw = duckdb.connect(str(path))  # a user slipped in with no audit row, by someone with the file
    raw.execute("INSERT INTO users (user_id, display_name, roles, token_salt, token_hash, created_at, created_by) "
                "VALUES ('mallory', 'M', ['admin'], ''::BLOB, ''::BLOB, now(), 'mallory')")
    raw.close()
    with db.open_db(path, read_only=True) as conn:
        verdict = chain.verify_audit(conn)
    assert verdict.first_broken is None and not verdict.ok
    assert set(verdict.problems) == {"user mallory: no user.add audit row",
                                     "audit row 1: search.run names search:never-made, which does not exist"}


def test_an_audit_row_covers_a_record_only_when_its_action_target_and_details_all_name_it(tmp_path):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn, db.transaction(conn):
        chain.append_audit(conn, "ana", "calibration.mark", "gallery:g", {"subject_a": "a", "subject_b": "b"})
        chain.append_audit(conn, "ana", "index.build", "gallery:g", {"build_id": "b-1"})
    raw = duckdb.connect(str(path))  # records written by someone with the file, beside rows that nearly name them
    raw.execute("INSERT INTO subject_pair_marks VALUES ('g', 'a', 'b', true, '', 'ana', now()), "
                "('g', 'a', 'c', true, '', 'ana', now()), ('h', 'a', 'b', true, '', 'ana', now())")
    raw.execute("INSERT INTO index_builds (build_id, gallery_id, model_id, model_sha256, folder, shards, vectors, "
                "params, file_hashes, build_seconds, actor, built_at, status) "
                "SELECT id, 'g', 'm', 'x', 'f', 1, 1, '{}', '{}', 1, 'ana', now(), 'retired' "
                "FROM (VALUES ('b-1'), ('b-2')) v(id)")
    raw.execute("INSERT INTO users (user_id, display_name, roles, token_salt, token_hash, created_at, created_by, "
                "disabled_at) VALUES ('gone', 'G', ['analyst'], ''::BLOB, ''::BLOB, now(), 'ana', now())")
    raw.close()
    with db.open_db(path, read_only=True) as conn:
        verdict = chain.verify_audit(conn)
    assert set(verdict.problems) == {"pair mark g/a/c: no calibration.mark audit row",
                                     "pair mark h/a/b: no calibration.mark audit row",
                                     "index build b-2: no index.build audit row",
                                     # the wording a carried-over chain's excused records are matched by
                                     "user gone: no user.add audit row",
                                     "user gone: disabled without a user.disable audit row"}


def test_a_missing_key_or_anchor_log_is_reported(tmp_path):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn, db.transaction(conn):
        chain.append_audit(conn, "ana", "x", "y", {})
    files = chain.chain_files(path)
    files.anchor.unlink()
    with db.open_db(path, read_only=True) as conn:
        assert "anchor log" in chain.verify_audit(conn).reason
    files.key.unlink()
    with db.open_db(path, read_only=True) as conn:
        assert "audit key is missing" in chain.verify_audit(conn).reason
    with db.open_db(path) as conn, pytest.raises(db.TerminalDbError, match="audit key is missing"):
        with db.transaction(conn):
            chain.append_audit(conn, "ana", "x", "y", {})


def _relink(raw, start: int) -> None:
    """Re-hash rows from ``start`` on as an attacker without the key can: unkeyed SHA-256."""
    rows = [AuditRow(*r) for r in raw.execute(db.query("audit_rows")).fetchall()]
    prev = rows[start - 2].row_hash if start > 1 else GENESIS_HASH
    for row in rows[start - 1:]:
        h = legacy_hash(prev, row.seq, row.at, row.actor, row.action, row.target, row.details)
        raw.execute("UPDATE audit_log SET prev_hash = ?, row_hash = ? WHERE seq = ?", [prev, h, row.seq])
        prev = h


def _rewrite_and_rehash(raw):
    raw.execute("UPDATE audit_log SET actor = 'mallory' WHERE seq = 2")
    _relink(raw, 2)


def _delete_and_renumber(raw):
    raw.execute("DELETE FROM audit_log WHERE seq = 2")
    raw.execute("UPDATE audit_log SET seq = seq - 1 WHERE seq > 2")
    _relink(raw, 2)


def _forged_append(raw):
    head = raw.execute(db.query("audit_tail")).fetchone()
    at = datetime.now(timezone.utc)
    raw.execute(db.query("audit_insert"), [head[0] + 1, at, "mallory", "request.approve", "request:1", "{}", head[1],
                                           legacy_hash(head[1], head[0] + 1, at, "mallory", "request.approve",
                                                       "request:1", "{}")])


def _resplit(raw):  # row 1's actor held the old separator; moved across, the unkeyed hash stayed the same
    raw.execute("UPDATE audit_log SET actor = 'ana', action = 'b\x1fc' WHERE seq = 1")


TAMPERS = {
    "rewrite and re-hash": _rewrite_and_rehash,
    "delete in the middle, renumber and re-hash": _delete_and_renumber,
    "truncate the last rows": lambda raw: raw.execute("DELETE FROM audit_log WHERE seq > 3"),
    "empty the log": lambda raw: raw.execute("DELETE FROM audit_log"),
    "append a forged row": _forged_append,
    "re-split fields": _resplit,
}


@pytest.mark.parametrize("tamper", TAMPERS, ids=list(TAMPERS))
def test_every_tamper_with_the_database_file_is_found(tmp_path, tamper):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn:
        for i, (actor, action) in enumerate([("ana\x1fb", "c"), ("ana", "x"), ("ben", "y"), ("ana", "z"), ("ben", "w")]):
            with db.transaction(conn):
                chain.append_audit(conn, actor, action, f"thing:{i}", {"i": i})
        assert chain.verify_audit(conn).ok
    raw = duckdb.connect(str(path))
    TAMPERS[tamper](raw)
    raw.close()
    with db.open_db(path, read_only=True) as conn:
        verdict = chain.verify_audit(conn)
    assert verdict.first_broken is not None, verdict


def _pending(conn, actor: str, action: str, target: str, details: dict) -> None:
    """A row as a flow run that may not read the key leaves it (audit_pending, in its own transaction)."""
    with db.transaction(conn):
        conn.execute(db.query("audit_pending_insert"), [db.now(), actor, action, target, canonical_details(details)])


def _keyed_then_pending(path, pending: int) -> None:
    """A chain of one keyed row, then ``pending`` rows a run left for the service to seal."""
    with db.open_db(path) as conn:
        with db.transaction(conn):
            chain.append_audit(conn, "ana", "first", "t", {})
        for step in range(1, pending + 1):
            _pending(conn, "operator.o", "run.step", f"thing:{step}", {"step": step})


def test_pending_rows_are_sealed_in_order_before_the_next_keyed_row_and_by_the_service(tmp_path):
    path = tmp_path / "a.duckdb"
    _keyed_then_pending(path, 2)
    with db.open_db(path) as conn:
        assert [r.action for r in chain.audit_rows(conn)] == ["first"]
        with db.transaction(conn):
            chain.append_audit(conn, "ana", "later", "t", {})  # a key holder seals what waits first
        assert [(r.actor, r.action) for r in chain.audit_rows(conn)] == [
            ("ana", "first"), ("operator.o", "run.step"), ("operator.o", "run.step"), ("ana", "later")]
        _pending(conn, "operator.o", "purge", "all", {"n": 1})
        with db.transaction(conn):
            assert chain.seal_pending(conn) == 1
        with db.transaction(conn):
            assert chain.seal_pending(conn) == 0
        assert conn.execute("SELECT count(*) FROM audit_pending").fetchone()[0] == 0
        verdict = chain.verify_audit(conn)
    assert verdict.ok and verdict.rows == 5 and verdict.unanchored_rows == 0
    assert chain.read_anchors(chain.chain_files(path).anchor)[-1].seq == 5


def test_the_service_seals_pending_rows_when_a_run_rings_its_bell(tmp_path):
    import threading

    path = tmp_path / "a.duckdb"
    _keyed_then_pending(path, 1)
    stop = threading.Event()
    sealer = threading.Thread(target=db.seal_when_rung, args=(path, stop, 0.05))
    sealer.start()
    try:
        chain.chain_files(path).bell.touch()
        for _ in range(200):
            with db.open_db(path) as conn:
                if len(chain.audit_rows(conn)) == 2:
                    break
            stop.wait(0.05)
    finally:
        stop.set()
        sealer.join()
    with db.open_db(path) as conn:
        assert [r.action for r in chain.audit_rows(conn)] == ["first", "run.step"] and chain.verify_audit(conn).ok


def test_an_anchor_log_kept_beside_the_database_moves_into_the_keys_folder(tmp_path):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn, db.transaction(conn):
        chain.append_audit(conn, "ana", "x", "y", {})
    files = chain.chain_files(path)
    assert files.anchor.parent == tmp_path / "secrets"
    old = tmp_path / "a.duckdb.anchor"
    files.anchor.rename(old)
    with db.open_db(path) as conn:
        assert chain.verify_audit(conn).ok
    assert not old.exists() and len(chain.read_anchors(files.anchor)) == 1


def test_a_keys_folder_someone_else_may_enter_fails_verification_and_appends(tmp_path):
    path = tmp_path / "a.duckdb"
    with db.open_db(path) as conn, db.transaction(conn):
        chain.append_audit(conn, "ana", "x", "y", {})
    (tmp_path / "secrets").chmod(0o770)
    with db.open_db(path) as conn:
        verdict = chain.verify_audit(conn)
        assert not verdict.ok and "owner-only" in verdict.reason
        with pytest.raises(ForeignKeyFolder), db.transaction(conn):
            chain.append_audit(conn, "ana", "x", "y", {})
        assert len(chain.audit_rows(conn)) == 1
