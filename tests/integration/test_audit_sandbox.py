"""Auditor SQL as an attacker writes it: every way out of the sandbox is refused and
audited, a slow query is stopped and never blocks a writer, and the snapshot it reads
holds no pixels, vectors or secrets."""

from __future__ import annotations

import json
import os
import threading
import time

import pytest

from facelead.workflow import auditor_query
from warehouse import chain, db, sandbox


@pytest.fixture(scope="module")
def fresh(settings):
    """The test settings, with auditors' queries reading a snapshot made for each query."""
    return settings.model_copy(update={"security": settings.security.model_copy(update={
        "audit_snapshot_seconds": 0, "audit_query_seconds": 2})})


def _refused(fresh, sql: str) -> str:
    with pytest.raises(sandbox.QueryRefused) as refused:
        auditor_query(fresh, "auditor.test", sql)
    with db.open_db(fresh.database_path, read_only=True) as conn:
        row = chain.audit_rows(conn)[-1]
    assert row.action == "audit.query.refused" and json.loads(row.details)["sql"] == sql
    return refused.value.reason


@pytest.mark.parametrize("sql, reason", [
    ("SELECT * FROM read_text('/etc/passwd')", "query"),
    ("SELECT * FROM read_blob('/proc/self/environ')", "query"),
    ("SELECT * FROM read_csv('{database}')", "query"),
    ("COPY (SELECT * FROM users) TO '{folder}/users.csv'", "read_only"),
    ("ATTACH '{database}' AS live", "read_only"),
    ("EXPORT DATABASE '{folder}/dump'", "read_only"),
    ("SELECT 1; DELETE FROM audit_log", "read_only"),
    ("SET enable_external_access = true", "read_only"),
    ("PRAGMA enable_external_access", "read_only"),
    ("CALL pragma_version()", "read_only"),
    ("INSTALL httpfs", "read_only"),
    ("SELECT * FROM read_text('{folder}/fifo')", "query"),
])
def test_each_way_out_of_the_sandbox_is_refused_and_audited(enrolled, people, fresh, tmp_path, sql, reason):
    os.mkfifo(tmp_path / "fifo")  # a reader of a FIFO would wait forever
    filled = sql.format(database=fresh.database_path, folder=tmp_path)
    assert _refused(fresh, filled) == reason
    assert not (tmp_path / "users.csv").exists() and not (tmp_path / "dump").exists()


def test_a_slow_query_is_stopped_and_a_writer_is_never_held_up(enrolled, people, fresh):
    written = []

    def write_meanwhile():
        time.sleep(0.3)
        started = time.monotonic()
        with db.open_db(fresh.database_path, lock_timeout_s=5) as conn, db.transaction(conn):
            chain.append_audit(conn, "writer.test", "test.write", "database", {})
        written.append(time.monotonic() - started)

    writer = threading.Thread(target=write_meanwhile)
    writer.start()
    started = time.monotonic()
    assert _refused(fresh, "SELECT count(*) FROM range(100000000000) a, range(10) b") == "time_limit"
    writer.join()
    assert time.monotonic() - started < 30 and written and written[0] < 5


def test_the_snapshot_holds_no_thumbnail_vector_or_secret_hash(enrolled, people, fresh):
    with db.open_db(fresh.database_path, read_only=True) as conn:
        thumbnail = conn.execute("SELECT thumbnail FROM faces WHERE thumbnail IS NOT NULL LIMIT 1").fetchone()[0]
        vector = conn.execute("SELECT vector FROM embeddings LIMIT 1").fetchone()[0]
        token_hash = conn.execute("SELECT token_hash FROM users WHERE user_id = 'auditor.test'").fetchone()[0]
    columns, rows = auditor_query(fresh, "auditor.test", f"SELECT content FROM read_blob('{fresh.audit_snapshot_path}')")
    snapshot = rows[0][0]  # the only file the sandbox can read is its own
    import numpy as np

    assert len(snapshot) > 10_000
    assert thumbnail[:64] not in snapshot and np.float32(vector).tobytes()[:32] not in snapshot
    assert token_hash not in snapshot
    columns, rows = auditor_query(fresh, "auditor.test", "SELECT count(*) FROM search_history")
    assert rows[0][0] >= 0


@pytest.mark.parametrize("sql, reason", [
    ("SELECT * FROM range(20000)", "too_many_rows"),  # past the answer's 10,000 rows
    ("SELECT repeat('x', 1000000) FROM range(20)", "too_large"),  # 20 MB of text, past its 16 MB
    ("SELECT [repeat('x', 1000000)] FROM range(20)", "too_large"),  # or nested in lists
    ("SELECT list(repeat('x', 100)) FROM range(200000)", "too_large"),  # 200,000 rows folded into one
    ("SELECT repeat('x', 900000000)", "query"),  # one 900 MB string: past the query's memory, never built
])
def test_an_answer_past_its_rows_bytes_or_memory_is_refused_and_audited(enrolled, people, fresh, sql, reason):
    assert _refused(fresh, sql) == reason


def test_one_query_a_person_and_a_few_in_all_run_at_once(enrolled, people, fresh):
    one_at_a_time = fresh.model_copy(update={"security": fresh.security.model_copy(update={"audit_queries_at_once": 1})})
    with sandbox.query_slot("auditor.test", 2):  # the person's earlier query, still running
        assert _refused(fresh, "SELECT 1") == "busy"
    with sandbox.query_slot("someone.else", 1):  # another auditor's, with room for one in all
        assert _refused(one_at_a_time, "SELECT 1") == "busy"
    assert auditor_query(fresh, "auditor.test", "SELECT 1")[1] == [(1,)]  # and free again after


def test_an_analyst_s_determination_reaches_the_snapshot_only_once_reviewed(enrolled, people, approved, fresh):
    """A person who reviews and audits cannot read the analyst's choice through the auditors' SQL
    before recording their own (blind review, whatever roles they hold)."""
    from facelead.workflow import record_determination

    from fixtures import run_search

    search_id = run_search(approved(enrolled.probes[6][0], "SNAP-BLIND"), k=3).search_id
    record_determination(fresh.database_path, "analyst.test", search_id, 1)
    seen = ("SELECT (SELECT count(*) FROM determinations WHERE search_id = '{0}'), "
            "(SELECT count(*) FROM audit_log WHERE action = 'determination' AND target = 'search:{0}')")
    assert auditor_query(fresh, "auditor.test", seen.format(search_id))[1] == [(0, 0)]
    record_determination(fresh.database_path, "reviewer.test", search_id, 1)
    assert auditor_query(fresh, "auditor.test", seen.format(search_id))[1] == [(2, 2)]
