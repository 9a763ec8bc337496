import pytest

from facelead.access import check_secret, check_user_id, clean_name, hash_token, new_salt, new_token, secret_matches


def test_a_secret_matches_only_its_own_salted_hash():
    secret, salt = "correct horse battery", new_salt()
    stored = (salt, hash_token(secret, salt))
    assert secret_matches(secret, stored)
    assert not secret_matches(secret + "x", stored)
    assert hash_token(secret, new_salt()) != stored[1]  # salted: the same secret hashes differently per user
    assert not secret_matches(secret, None)  # no user, or no secret set yet
    assert len(new_token()) >= 32 and new_token() != new_token()


def test_checking_a_secret_does_the_same_work_whether_or_not_anything_is_stored(monkeypatch):
    import hashlib

    calls = []
    real = hashlib.scrypt
    monkeypatch.setattr(hashlib, "scrypt", lambda *a, **kw: calls.append(kw["n"]) or real(*a, **kw))
    salt = new_salt()
    stored = (salt, real(b"the real one here", salt=salt, n=2**14, r=8, p=1, dklen=32))
    secret_matches("a wrong guess here", stored)
    secret_matches("a wrong guess here", None)  # unknown user: no early return
    assert calls == [2**14, 2**14]


@pytest.mark.parametrize("bad", ["", "a b", "ana\x1fadmin", "ana\nrow", "-leading", "x" * 65, "ana|admin", "ana;x"])
def test_user_ids_that_could_re_split_or_hide_in_the_audit_log_are_refused(bad):
    with pytest.raises(ValueError, match="user id"):
        check_user_id(bad)


def test_claimed_names_are_cleaned_before_they_reach_the_audit_log():
    assert clean_name("ana\x1fadmin\n") == "ana?admin?"
    assert len(clean_name("x" * 1000)) == 64 and clean_name("x" * 1000).endswith("\u2026")
    assert check_user_id("ana.lyst@unit-7") == "ana.lyst@unit-7"


def test_short_secrets_are_refused():
    with pytest.raises(ValueError, match="12 characters"):
        check_secret("short")


@pytest.mark.parametrize("cell", ["=HYPERLINK(\"http://x\",\"y\")", "+1+1", "-2+3", "@SUM(A1)", "\t=1", "\r=1"])
def test_a_cell_a_spreadsheet_would_run_as_a_formula_is_escaped(cell, tmp_path):
    from facelead.files import spreadsheet_safe, write_csv

    assert spreadsheet_safe(cell) == "'" + cell
    path = write_csv(tmp_path / "x.csv", [{"subject_id": cell, "score": -0.5}], ["subject_id", "score"])
    import csv

    [header, row] = list(csv.reader(path.open(newline="")))
    assert header == ["subject_id", "score"] and row == ["'" + cell, "-0.5"]  # numbers stay numbers
    assert oct(path.stat().st_mode & 0o777) == "0o600"


def test_plain_cells_are_left_as_they_are():
    from facelead.files import spreadsheet_safe

    assert [spreadsheet_safe(v) for v in ("SUBJ-1", "2026-004211", "a=b", 3, None, "a; b")] == [
        "SUBJ-1", "2026-004211", "a=b", 3, None, "a; b"]


def test_a_part_a_spreadsheet_splitting_on_semicolons_would_run_is_escaped_too():
    from facelead.files import spreadsheet_safe

    assert spreadsheet_safe('robbery;=HYPERLINK("http://x")') == "robbery;'=HYPERLINK(\"http://x\")"
    assert spreadsheet_safe("a; @SUM(A1);  -1") == "a; '@SUM(A1);  '-1"
    assert spreadsheet_safe("=1;+2") == "'=1;'+2"
