"""Decode image bytes into upright RGB pixels, refusing what is unsafe or unreadable."""

from __future__ import annotations

import io
import warnings

import numpy as np
from numpy.typing import NDArray
from PIL import Image, ImageOps, UnidentifiedImageError

Image.MAX_IMAGE_PIXELS = None  # our own limit below applies before any pixel is decoded


class ImageDecodeError(ValueError):
    """The bytes are not an image facelead can use; ``reason`` is a short stable code."""

    def __init__(self, reason: str, detail: str) -> None:
        super().__init__(f"{reason}: {detail}")
        self.reason, self.detail = reason, detail


WIDE_GREY_MODES = frozenset({"I;16", "I;16L", "I;16B", "I;16N", "I", "F"})


def to_rgb(image: Image.Image) -> NDArray[np.uint8]:
    """(H,W,3) RGB uint8 of any mode. 16-bit and wider grey is scaled to 8 bits (a plain
    conversion would clip it to near white); palette, CMYK and alpha images convert as
    shown (alpha dropped); only the current frame of an animation is used."""
    if image.mode in WIDE_GREY_MODES:
        grey = np.asarray(image, dtype=np.float64)
        top = grey.max(initial=0.0)
        if top > 255:
            grey = grey * (255.0 / (65535.0 if top <= 65535 else top))
        return np.repeat(np.clip(grey, 0, 255).round().astype(np.uint8)[..., None], 3, axis=2)
    return np.asarray(image if image.mode == "RGB" else image.convert("RGB"), dtype=np.uint8)


def decode_image(data: bytes, max_pixels: int) -> NDArray[np.uint8]:
    """(H,W,3) RGB uint8, rotated upright by its EXIF orientation; of an animation, the
    first frame.

    Raises ImageDecodeError with reason ``empty``, ``not_an_image``, ``too_many_pixels``
    (checked from the header, before decoding) or ``corrupt``.
    """
    if not data:
        raise ImageDecodeError("empty", "file has no bytes")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            image = Image.open(io.BytesIO(data))
            width, height = image.size
            if width * height > max_pixels:
                raise ImageDecodeError("too_many_pixels", f"{width}x{height} exceeds the {max_pixels} pixel limit")
            image.seek(0)
            image.load()
            ImageOps.exif_transpose(image, in_place=True)  # no copy of an upright image
            return to_rgb(image)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not_an_image", "not a recognised image format") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageDecodeError("corrupt", str(exc) or type(exc).__name__) from exc
