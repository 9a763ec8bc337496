import io

import numpy as np
import pytest
from PIL import Image

from models.image import ImageDecodeError, decode_image


def _encode(image: Image.Image, fmt: str, **kwargs) -> bytes:
    out = io.BytesIO()
    image.save(out, format=fmt, **kwargs)
    return out.getvalue()


def _reason(data: bytes, max_pixels: int = 10_000_000) -> str:
    with pytest.raises(ImageDecodeError) as info:
        decode_image(data, max_pixels)
    return info.value.reason


def test_rgb_jpeg_decodes_to_rgb_uint8():
    pixels = decode_image(_encode(Image.new("RGB", (40, 30), (250, 10, 10)), "JPEG", quality=95), 10_000)
    assert pixels.shape == (30, 40, 3) and pixels.dtype == np.uint8
    assert pixels[..., 0].mean() > 200 and pixels[..., 2].mean() < 40  # red stays in channel 0


@pytest.mark.parametrize("data,reason", [
    (b"", "empty"),
    (b"this is a text file, not a photo", "not_an_image"),
])
def test_unusable_bytes_are_refused_with_a_reason(data, reason):
    assert _reason(data) == reason


def test_truncated_jpeg_is_corrupt():
    data = _encode(Image.new("RGB", (200, 200), (1, 2, 3)), "JPEG")
    assert _reason(data[: len(data) // 3]) == "corrupt"


def test_pixel_limit_is_checked_before_decoding():
    data = _encode(Image.new("L", (3000, 3000)), "PNG")
    assert _reason(data, max_pixels=1_000_000) == "too_many_pixels"


def test_exif_orientation_is_applied():
    image = Image.new("RGB", (60, 20), (0, 0, 0))
    exif = image.getexif()
    exif[0x0112] = 6  # rotate 90 degrees clockwise to display
    pixels = decode_image(_encode(image, "JPEG", exif=exif), 10_000)
    assert pixels.shape[:2] == (60, 20)


@pytest.mark.parametrize("mode", ["L", "RGBA", "CMYK", "P"])
def test_other_colour_modes_become_rgb(mode):
    fmt = "JPEG" if mode in ("L", "CMYK") else "PNG"
    assert decode_image(_encode(Image.new(mode, (10, 10)), fmt), 10_000).shape == (10, 10, 3)
