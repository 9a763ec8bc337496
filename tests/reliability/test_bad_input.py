"""Whatever a records system holds: one enrollment of broken, odd and hostile input beside
good photos. Each bad file is refused with a reason and a detail naming it, each odd but
usable file is enrolled, and nothing else is lost."""

from __future__ import annotations

import csv
import struct
import zlib
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from models.align import roll_degrees
from models.image import decode_image
from warehouse import chain, db

from fixtures import enroll_as_admin

GALLERY = "reliability-bad-input"
HOSTILE_SUBJECT = "O'Brien\"; DROP TABLE subjects;--"


def _png_claiming(width: int, height: int) -> bytes:
    """A tiny PNG whose header claims ``width`` x ``height`` pixels (a decompression bomb's shape)."""
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data))
    header = struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0)
    return b"\x89PNG\r\n\x1a\n" + chunk(b"IHDR", header) + chunk(b"IDAT", zlib.compress(b"\x00" * 64)) + chunk(b"IEND", b"")


def _exif_rotated(face: Image.Image, path: Path) -> None:
    """The photo stored lying on its side, with the EXIF orientation that turns it upright."""
    exif = Image.Exif()
    exif[0x0112] = 6  # viewer rotates 90 degrees clockwise
    face.transpose(Image.Transpose.ROTATE_90).save(path, exif=exif, quality=95)


# file name: (subject id, what must happen: "enrolled" or the refusal reason)
EXPECTED = {
    "good-1.jpg": ("S-GOOD-1", "enrolled"),
    "uni code é ünïcode.jpg": ("S-UNICODE", "enrolled"),
    "hostile.jpg": (HOSTILE_SUBJECT, "enrolled"),
    "cmyk.jpg": ("S-CMYK", "enrolled"),
    "grey16.png": ("S-GREY16", "enrolled"),
    "alpha.png": ("S-ALPHA", "enrolled"),
    "exif-rotated.jpg": ("S-EXIF", "enrolled"),
    "animated.gif": ("S-GIF", "enrolled"),
    "greyscale.jpg": ("S-GREY", "enrolled"),
    "corrupt.jpg": ("S-CORRUPT", "corrupt"),
    "truncated.jpg": ("S-TRUNCATED", "corrupt"),
    "zero.jpg": ("S-ZERO", "empty"),
    "text.jpg": ("S-TEXT", "not_an_image"),
    "bomb.png": ("S-BOMB", "too_many_pixels"),
    "no-face.png": ("S-NOFACE", "no_face"),
    "group.jpg": ("S-GROUP", "quality"),
    "tiny-face.jpg": ("S-TINY", "quality"),
}


@pytest.fixture(scope="module")
def batch(faces_dev, settings, people, dask_runner, tmp_path_factory):
    from flows.enroll_gallery import enroll_gallery

    work = tmp_path_factory.mktemp("bad-input")
    folder = work / "batch"
    folder.mkdir()
    people = sorted(p for p in (faces_dev / "identities").iterdir() if p.is_dir())
    faces = [Image.open(sorted(p.glob("*"))[0]).convert("RGB") for p in people[:9]]
    faces[0].save(folder / "good-1.jpg", quality=95)
    faces[1].save(folder / "uni code é ünïcode.jpg", quality=95)
    faces[2].save(folder / "hostile.jpg", quality=95)
    faces[3].convert("CMYK").save(folder / "cmyk.jpg", quality=95)
    grey = np.asarray(faces[4].convert("L"), np.uint16) * 257
    Image.fromarray(grey).save(folder / "grey16.png")
    rgba = faces[5].copy()
    rgba.putalpha(200)
    rgba.save(folder / "alpha.png")
    _exif_rotated(faces[6], folder / "exif-rotated.jpg")
    faces[7].save(folder / "animated.gif", save_all=True, append_images=[Image.new("RGB", faces[7].size, "grey")])
    faces[8].convert("L").save(folder / "greyscale.jpg", quality=95)
    saved = (folder / "good-1.jpg").read_bytes()
    start_of_frame = saved.find(b"\xff\xc0") + 19  # a valid header up to the frame, then garbage
    (folder / "corrupt.jpg").write_bytes(saved[:start_of_frame] + bytes(range(256)) * 20)
    (folder / "truncated.jpg").write_bytes(saved[:2000])
    (folder / "zero.jpg").write_bytes(b"")
    (folder / "text.jpg").write_text("not a photo at all")
    (folder / "bomb.png").write_bytes(_png_claiming(60_000, 60_000))
    Image.fromarray(np.full((300, 300, 3), 128, np.uint8)).save(folder / "no-face.png")
    Image.open(faces_dev / "multi" / "two_people.jpg").save(folder / "group.jpg", quality=95)
    faces[0].resize((faces[0].width // 12, faces[0].height // 12)).save(folder / "tiny-face.jpg", quality=95)
    (work / "outside.jpg").write_bytes((folder / "good-1.jpg").read_bytes())
    (folder / "escape.jpg").symlink_to(work / "outside.jpg")

    manifest = folder / "manifest.csv"
    with manifest.open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["image_path", "subject_id"])
        writer.writerows([name, subject] for name, (subject, _) in EXPECTED.items())
        writer.writerow(["good-1.jpg", "S-GOOD-1"])  # the same row twice
        writer.writerow(["../outside.jpg", "S-TRAVERSAL"])
        writer.writerow([str(work / "outside.jpg"), "S-ABSOLUTE"])
        writer.writerow(["escape.jpg", "S-SYMLINK"])
    summary = enroll_as_admin(enroll_gallery.with_options(task_runner=dask_runner), source=str(manifest), gallery=GALLERY)
    with db.open_db(settings.database_path, read_only=True) as conn:
        refused = {Path(r[0]).name if r[2] != "outside_image_roots" else r[3]: (r[1], r[2], r[4]) for r in conn.execute(
            "SELECT source_path, sha256, reason, subject_id, detail FROM refusals WHERE gallery_id = ?", [GALLERY]).fetchall()}
        enrolled = dict(conn.execute(
            "SELECT i.source_path, e.subject_id FROM enrollments e JOIN faces f USING (face_id) "
            "JOIN images i ON i.sha256 = f.image_sha256 WHERE e.gallery_id = ?", [GALLERY]).fetchall())
        verdict = chain.verify_audit(conn)
    return summary, refused, {Path(p).name: s for p, s in enrolled.items()}, verdict, folder


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_each_file_is_enrolled_or_refused_with_its_reason_naming_it(batch, name):
    _, refused, enrolled, _, _ = batch
    subject, expected = EXPECTED[name]
    if expected == "enrolled":
        assert enrolled.get(name) == subject, refused.get(name)
    else:
        assert name not in enrolled
        _, reason, detail = refused[name]
        assert reason == expected and name in detail, refused[name]


def test_paths_leaving_the_image_roots_are_refused_and_the_rest_goes_on(batch):
    summary, refused, enrolled, chain, _ = batch
    for subject in ("S-TRAVERSAL", "S-ABSOLUTE", "S-SYMLINK"):
        _, reason, detail = refused[subject]
        assert reason == "outside_image_roots" and "manifest.csv line" in detail
    assert summary.enrolled == sum(1 for _, e in EXPECTED.values() if e == "enrolled") == len(enrolled)
    assert summary.duplicates == 1 and chain.ok


def test_a_hostile_subject_id_is_stored_literally(batch, settings):
    with db.open_db(settings.database_path, read_only=True) as conn:
        assert conn.execute("SELECT count(*) FROM subjects WHERE subject_id = ?", [HOSTILE_SUBJECT]).fetchone()[0] == 1


def test_an_exif_rotated_photo_is_turned_upright_before_detection(batch, settings):
    _, _, _, _, folder = batch
    upright = decode_image((folder / "exif-rotated.jpg").read_bytes(), 10**8)
    stored_width, stored_height = Image.open(folder / "exif-rotated.jpg").size
    assert (stored_width, stored_height) == upright.shape[:2]  # the file lies on its side
    with db.open_db(settings.database_path, read_only=True) as conn:
        width, height, marks = conn.execute(
            "SELECT i.width, i.height, f.landmarks FROM images i JOIN faces f ON f.image_sha256 = i.sha256 "
            "WHERE i.source_path LIKE '%exif-rotated.jpg'").fetchone()
    assert (height, width) == upright.shape[:2]
    assert abs(roll_degrees(np.array(marks).reshape(5, 2))) < 20  # eyes level: detected upright


def test_the_pixel_limit_is_a_setting(faces_dev, monkeypatch):
    photo = next((faces_dev / "identities").rglob("*.jpg"))
    width, height = Image.open(photo).size
    from models.image import ImageDecodeError

    with pytest.raises(ImageDecodeError, match="pixel limit") as refused:
        decode_image(photo.read_bytes(), width * height - 1)
    assert refused.value.reason == "too_many_pixels"
    monkeypatch.setenv("FACELEAD_MAX_IMAGE_PIXELS", "1000")
    from facelead.settings import Settings

    assert Settings().max_image_pixels == 1000
