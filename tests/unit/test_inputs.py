import hashlib
from datetime import datetime, timezone
from pathlib import Path

import pytest

from facelead.intake.inputs import HashedRef, ImageRef, InputError, hash_ref, read_manifest, scan_folder, split_new


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text, encoding="utf-8")
    return path


def test_manifest_rows_resolve_relative_paths_and_parse_dates(tmp_path):
    manifest = _write(tmp_path / "m" / "gallery.csv",
                      "image_path,subject_id,source,acquired_at\n"
                      "a/1.jpg,S-1,booking,2024-05-01\n"
                      "/abs/2.jpg,S-2,,2024-05-02T10:30:00+02:00\n")
    refs, problems = read_manifest(manifest, "fallback", (Path("/abs"),))
    assert problems == []
    assert refs[0] == ImageRef(str(tmp_path / "m" / "a" / "1.jpg"), "S-1", "booking",
                               datetime(2024, 5, 1, tzinfo=timezone.utc))
    assert refs[1].path == "/abs/2.jpg" and refs[1].source == "fallback"
    assert refs[1].acquired_at == datetime(2024, 5, 2, 8, 30, tzinfo=timezone.utc)


def test_manifest_with_a_byte_order_mark_and_only_required_columns(tmp_path):
    manifest = tmp_path / "m.csv"
    manifest.write_bytes("image_path,subject_id\nx.jpg,S\n".encode("utf-8-sig"))
    refs, _ = read_manifest(manifest, "src")
    assert [(r.subject_id, r.acquired_at) for r in refs] == [("S", None)]


def test_missing_column_is_an_error_naming_file_and_column(tmp_path):
    manifest = _write(tmp_path / "m.csv", "path,subject_id\nx.jpg,S\n")
    with pytest.raises(InputError, match=r"m\.csv.*image_path"):
        read_manifest(manifest, "src")


def test_missing_manifest_is_an_error(tmp_path):
    with pytest.raises(InputError, match="not found"):
        read_manifest(tmp_path / "absent.csv", "src")


def test_bad_rows_are_returned_with_their_line_and_the_rest_kept(tmp_path):
    manifest = _write(tmp_path / "m.csv",
                      "image_path,subject_id,acquired_at\n"
                      "ok.jpg,S1,\n"
                      ",S2,\n"
                      "bad-date.jpg,S3,yesterday\n"
                      "ok2.jpg,S4,2020-01-01\n")
    refs, problems = read_manifest(manifest, "src")
    assert [r.subject_id for r in refs] == ["S1", "S4"]
    assert [p.reason for p in problems] == ["bad_manifest_row", "bad_manifest_row"]
    assert "line 3" in problems[0].detail and "line 4" in problems[1].detail and "yesterday" in problems[1].detail


def test_subject_ids_are_kept_literally(tmp_path):
    manifest = _write(tmp_path / "m.csv", "image_path,subject_id\nx.jpg,\"O'Brien\"\"; DROP TABLE subjects;--\"\n")
    refs, _ = read_manifest(manifest, "src")
    assert refs[0].subject_id == "O'Brien\"; DROP TABLE subjects;--"


def test_folder_subjects_come_from_the_first_level_folder(tmp_path):
    for name in ["alice/1.jpg", "alice/deeper/2.PNG", "bob/1.jpeg", "bob/notes.txt", "loose.jpg", "bob/.hidden.jpg"]:
        _write(tmp_path / name, "x")
    refs, problems = scan_folder(tmp_path, "src")
    assert [(Path(r.path).relative_to(tmp_path).as_posix(), r.subject_id) for r in refs] == [
        ("alice/1.jpg", "alice"), ("alice/deeper/2.PNG", "alice"), ("bob/1.jpeg", "bob")]
    assert [p.reason for p in problems] == ["no_subject"]


def test_folder_must_exist(tmp_path):
    with pytest.raises(InputError, match="folder not found"):
        scan_folder(tmp_path / "absent", "src")


def test_hash_is_of_content_and_unreadable_files_are_refused(tmp_path):
    a = _write(tmp_path / "a.jpg", "same")
    b = _write(tmp_path / "b.jpg", "same")
    ha, hb = hash_ref(ImageRef(str(a), "S", "src")), hash_ref(ImageRef(str(b), "S", "src"))
    assert ha.sha256 == hb.sha256 == hashlib.sha256(b"same").hexdigest()
    missing = hash_ref(ImageRef(str(tmp_path / "gone.jpg"), "S", "src"))
    assert missing.reason == "unreadable" and "gone.jpg" in missing.detail


def test_split_new_skips_known_and_repeated_content():
    ref = ImageRef("p", "S", "src")
    items = [HashedRef(ref, h) for h in ["a", "b", "a", "c", "b"]]
    new, skipped = split_new(items, known={"c"})
    assert [i.sha256 for i in new] == ["a", "b"] and skipped == 3


def test_images_outside_the_manifest_folder_and_the_image_roots_are_refused(tmp_path):
    (tmp_path / "elsewhere").mkdir()
    (tmp_path / "m" / "in").mkdir(parents=True)
    (tmp_path / "m" / "in" / "escape.jpg").symlink_to(tmp_path / "elsewhere" / "x.jpg")
    manifest = _write(tmp_path / "m" / "gallery.csv", "image_path,subject_id\n"
                      "ok/1.jpg,S-1\n../secrets/2.jpg,S-2\n/etc/passwd.jpg,S-3\nin/escape.jpg,S-4\n"
                      f"{tmp_path / 'allowed' / '5.jpg'},S-5\n")
    refs, problems = read_manifest(manifest, "src", (tmp_path / "allowed",))
    assert [r.subject_id for r in refs] == ["S-1", "S-5"]
    assert {p.subject_id: p.reason for p in problems} == {f"S-{i}": "outside_image_roots" for i in (2, 3, 4)}
    assert all("gallery.csv line" in p.detail and "FACELEAD_IMAGE_ROOTS" in p.detail for p in problems)


def test_a_symlink_leading_out_of_an_enrolled_folder_is_refused(tmp_path):
    (tmp_path / "outside.jpg").write_bytes(b"x")
    (tmp_path / "drop" / "S-1").mkdir(parents=True)
    (tmp_path / "drop" / "S-1" / "in.jpg").write_bytes(b"x")
    (tmp_path / "drop" / "S-1" / "link.jpg").symlink_to(tmp_path / "outside.jpg")
    refs, problems = scan_folder(tmp_path / "drop", "src")
    assert [Path(r.path).name for r in refs] == ["in.jpg"]
    assert [(Path(p.path).name, p.reason) for p in problems] == [("link.jpg", "outside_image_roots")]


def test_an_image_that_resolves_into_facelead_s_own_folders_is_refused_whatever_the_path(tmp_path):
    from facelead.intake.inputs import read_source

    data = tmp_path / "data"
    probe = _write(data / "probes" / "abc.jpg", "a probe")
    _write(tmp_path / "subj" / "ok.jpg", "a gallery photo")
    (tmp_path / "subj" / "alias.jpg").symlink_to(probe)  # a link inside the source, into the data folder
    refs, problems = read_source(str(tmp_path), "drop", (), (data,))  # a folder that holds the data folder
    assert [Path(r.path).name for r in refs] == ["ok.jpg"]
    assert sorted((Path(p.path).name, p.reason) for p in problems) == [("abc.jpg", "service_folder"),
                                                                        ("alias.jpg", "service_folder")]
    manifest = _write(tmp_path / "m" / "g.csv", "image_path,subject_id\n../data/probes/../probes/abc.jpg,S-1\n")
    refs, problems = read_source(str(manifest), None, (tmp_path,), (data,))  # a manifest naming it by a detour
    assert refs == [] and [p.reason for p in problems] == ["service_folder"]


def test_a_source_that_lies_in_or_holds_a_service_folder_overlaps_it(tmp_path):
    from facelead.intake.inputs import overlaps

    probes = tmp_path / "data" / "probes"
    probes.mkdir(parents=True)
    (tmp_path / "data" / "demo").mkdir()
    (tmp_path / "drop").symlink_to(probes)
    assert overlaps(tmp_path / "data", (probes,)) and overlaps(probes / "x", (probes,))
    assert overlaps(tmp_path / "drop", (probes,))  # by a link
    assert not overlaps(tmp_path / "data" / "demo", (probes,))  # beside it: the demo's own gallery
