"""Random bytes at the image decoder and random text at the manifest parsers: nothing but
the documented errors comes out."""

from __future__ import annotations

import io
from pathlib import Path

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image

from facelead.intake.inputs import InputError, read_manifest
from facelead.intake.labeled import read_labeled_set
from models.image import ImageDecodeError, decode_image

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])


def _png() -> bytes:
    out = io.BytesIO()
    Image.new("RGB", (8, 8), "white").save(out, format="PNG")
    return out.getvalue()


PREFIXES = [b"", b"\xff\xd8\xff\xe0", b"\x89PNG\r\n\x1a\n", b"GIF89a", b"BM", b"II*\x00", b"RIFF\x00\x00\x00\x00WEBP", _png()[:40]]


@FUZZ
@given(st.sampled_from(PREFIXES), st.binary(max_size=4096))
def test_any_bytes_decode_or_raise_image_decode_error(prefix, tail):
    try:
        image = decode_image(prefix + tail, 10_000_000)
    except ImageDecodeError as exc:
        assert exc.reason in {"empty", "not_an_image", "too_many_pixels", "corrupt"}
    else:
        assert image.ndim == 3 and image.shape[2] == 3 and image.dtype.name == "uint8"


CSV_TEXT = st.text(alphabet=st.sampled_from(list("ab,\"\n\r/.\\é'; \t0123456789-:T\x00")) | st.characters(), max_size=600)


@FUZZ
@given(header=st.sampled_from(["image_path,subject_id\n", "image_path,subject_id,source,acquired_at\n",
                               "path,identity\n", "", "subject_id\n"]), body=CSV_TEXT)
def test_any_manifest_parses_into_rows_and_refusals_or_raises_input_error(tmp_path_factory, header, body):
    manifest = tmp_path_factory.mktemp("fuzz") / "m.csv"
    manifest.write_bytes((header + body).encode("utf-8", "replace"))
    parsers = (lambda: read_manifest(manifest, "src", (Path("/srv"),)),
               lambda: (lambda labeled: (labeled.refs, labeled.problems))(read_labeled_set(manifest, [], ())))
    for parse in parsers:
        try:
            refs, problems = parse()
        except InputError:
            continue
        assert all(Path(r.path).is_absolute() for r in refs)
        assert all(p.reason and p.detail for p in problems)


@FUZZ
@given(st.binary(max_size=600))
def test_a_manifest_of_any_bytes_is_read_or_refused_as_a_whole(tmp_path_factory, data):
    manifest = tmp_path_factory.mktemp("fuzz") / "m.csv"
    manifest.write_bytes(b"image_path,subject_id\n" + data)
    try:
        read_manifest(manifest, "src")
    except InputError as exc:
        assert "m.csv" in str(exc)
