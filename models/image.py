"""Decode image bytes into upright RGB pixels, refusing what is unsafe or unreadable."""

from __future__ import annotations

import hashlib
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


def sha256_hex(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


def decode_image(data: bytes, max_pixels: int) -> NDArray[np.uint8]:
    """(H,W,3) RGB uint8, rotated upright by its EXIF orientation.

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
            upright = ImageOps.exif_transpose(image)
            return np.asarray(upright.convert("RGB"), dtype=np.uint8)
    except ImageDecodeError:
        raise
    except UnidentifiedImageError as exc:
        raise ImageDecodeError("not_an_image", "not a recognised image format") from exc
    except (OSError, ValueError, SyntaxError, EOFError) as exc:
        raise ImageDecodeError("corrupt", str(exc) or type(exc).__name__) from exc
