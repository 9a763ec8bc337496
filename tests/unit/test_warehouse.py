import re

import duckdb
import pytest

from warehouse import accounts, casefile, db


def test_migrations_apply_once_and_are_recorded(tmp_path):
    path = tmp_path / "w.duckdb"
    with db.open_db(path) as conn:
        applied = [row[0] for row in conn.execute("SELECT name FROM schema_migrations").fetchall()]
    assert applied == [name for _, name, _ in db.migrations()]
    with db.open_db(path) as conn:
        assert db.migrate(conn) == []


def test_every_named_query_parses_against_the_schema(tmp_path):
    from importlib import resources

    names = [f.name[:-4] for f in (resources.files("warehouse") / "queries").iterdir() if f.name.endswith(".sql")]
    with db.open_db(tmp_path / "w.duckdb") as conn:
        conn.execute(db.query("purge_plan"))  # the temp tables the other purge queries read
        conn.execute(db.query("purge_builds"), [db.now()])
        for n, name in enumerate(names):
            sql = db.query(name)
            body = "\n".join(line for line in sql.splitlines() if not line.lstrip().startswith("--"))
            if "_batch" in sql or sql.count(";") > 1 or body.lstrip().upper().startswith("CREATE"):
                continue  # Arrow-relation inserts and scripts run in the integration tests; DDL in migrate
            conn.execute(f"PREPARE q{n} AS {sql.strip().rstrip(';')}")


def test_a_locked_file_is_transient_and_waits_then_fails_clearly(tmp_path):
    import multiprocessing as mp

    path = tmp_path / "locked.duckdb"
    db.connect(path).close()
    ctx = mp.get_context("spawn")
    ready, release = ctx.Event(), ctx.Event()
    holder = ctx.Process(target=_hold, args=(str(path), ready, release))
    holder.start()
    try:
        assert ready.wait(60)
        with pytest.raises(db.TransientDbError, match="locked by another process.*gave up"):
            db.connect(path, lock_timeout_s=1.0)
    finally:
        release.set()
        holder.join(30)
    db.connect(path).close()


def _hold(path, ready, release):
    conn = duckdb.connect(path)
    ready.set()
    release.wait(60)
    conn.close()


def test_each_insert_query_takes_exactly_its_record_s_fields_by_name():
    import re
    from dataclasses import fields

    from warehouse.records import INSERTS, CandidateRecord

    for name, record in INSERTS.items():
        named = set(re.findall(r"\$(\w+)", db.query(name)))
        assert named == {f.name for f in fields(record)}, (name, named ^ {f.name for f in fields(record)})
    # the candidates go in as an Arrow table: its columns are CandidateRecord's fields, as the query reads them
    assert casefile.CANDIDATE_SCHEMA.names == [f.name for f in fields(CandidateRecord)]
    assert re.findall(r"SELECT (.*) FROM candidate_batch", db.query("insert_candidates"))[0].split(", ") == \
        casefile.CANDIDATE_SCHEMA.names


def test_a_stored_request_and_user_read_back_as_their_typed_records(tmp_path):
    from datetime import date, datetime, timezone

    from warehouse.records import RequestRecord, StoredRequest, StoredUser, UserRecord

    at = datetime(2026, 11, 30, 12, tzinfo=timezone.utc)
    filed = RequestRecord("r-1", "C-1", "violent-felony", "why", "g", "/p.jpg", "ab" * 32, "ana", at, 1, None, "det")
    with db.open_db(tmp_path / "a.duckdb") as conn:
        accounts.insert_user(conn, UserRecord("ana", "Ana", ["analyst"], date(2099, 1, 1), b"s", b"h", at, at, "root"))
        casefile.insert_request(conn, filed)
        assert casefile.decide_request(conn, "r-1", "approved", "sam", "ok")
        user, request = accounts.get_user(conn, "ana"), casefile.get_request(conn, "r-1")
        assert accounts.get_user(conn, "nobody") is None and casefile.get_request(conn, "r-0") is None
    assert isinstance(user, StoredUser) and (user.roles, user.disabled, user.token_hash) == (["analyst"], False, None)
    assert isinstance(request, StoredRequest) and request.face_index == 1 and request.requested_for == "det"
    assert (request.decision, request.decided_by, request.search_id) == ("approved", "sam", None)


@pytest.mark.parametrize("name, record", [
    ("list_users", "UserListing"), ("pending_requests", "PendingRequest"), ("own_requests", "OwnRequest"),
    ("awaiting_review", "ReviewItem"), ("released_leads", "ReleasedLead"), ("search_history_page", "HistoryRow"),
    ("search_summary", "SearchSummary"), ("search_record", "PastSearch"), ("get_build", "StoredBuild"),
    ("active_build", "StoredBuild"), ("lead_candidate", "LeadCandidate"),
    ("candidate_sheet", "SheetRow"), ("oversight", "OversightRow")])
def test_each_typed_read_has_exactly_its_query_s_columns(tmp_path, name, record):
    """A read that crosses a layer is a frozen record; its fields are the query's columns, in order."""
    from dataclasses import fields

    from warehouse import records

    with db.open_db(tmp_path / "w.duckdb") as conn:
        sql = db.query(name)
        named = {p: None for p in re.findall(r"\$(\w+)", sql)}
        cursor = conn.execute(sql, named) if named else conn.execute(sql, ["x"] * sql.count("?"))
        columns = [d[0] for d in cursor.description]
    assert columns == [f.name for f in fields(getattr(records, record))]


def test_the_purge_names_probe_files_past_retention_or_never_filed_and_nothing_outside(tmp_path):
    import os
    from datetime import datetime, timedelta, timezone

    from facelead.steps.reports import unused_probes

    probes, now = tmp_path / "probes", datetime.now(timezone.utc)
    probes.mkdir()
    for name, age_hours in (("in-use.jpg", 9000), ("past-retention.jpg", 9000), ("abandoned.jpg", 48),
                            ("being-filed.jpg", 0)):
        (probes / name).write_bytes(b"jpeg")
        os.utime(probes / name, (now.timestamp() - age_hours * 3600,) * 2)
    outside = tmp_path / "elsewhere.jpg"
    outside.write_bytes(b"jpeg")
    found = unused_probes(probes, {str(probes / "in-use.jpg"), str(outside)}, now - timedelta(hours=24))
    assert [p.name for p in found] == ["abandoned.jpg", "past-retention.jpg"]
