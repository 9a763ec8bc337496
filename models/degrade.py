"""Synthetic degradations of a photo, each the kind of damage a quality gate must catch.

Pure functions on (H,W,3) uint8 RGB arrays; used to measure where quality bars sit and
to test that the gate refuses what it should.
"""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray


def downscale_to_inter_eye(image: NDArray[np.uint8], inter_eye_px: float, target_px: float) -> NDArray[np.uint8]:
    """The image shrunk so that eyes ``inter_eye_px`` apart end up ``target_px`` apart."""
    scale = min(1.0, target_px / inter_eye_px)
    size = (max(1, round(image.shape[1] * scale)), max(1, round(image.shape[0] * scale)))
    return cv2.resize(image, size, interpolation=cv2.INTER_AREA)


def blur(image: NDArray[np.uint8], sigma_px: float) -> NDArray[np.uint8]:
    """Gaussian blur of standard deviation ``sigma_px`` image pixels (defocus, motion smear)."""
    return cv2.GaussianBlur(image, (0, 0), sigma_px)


def darken(image: NDArray[np.uint8], gain: float) -> NDArray[np.uint8]:
    """Every pixel times ``gain`` (< 1: under-exposure, night CCTV)."""
    return np.clip(image.astype(np.float32) * gain, 0, 255).astype(np.uint8)


def rotate(image: NDArray[np.uint8], degrees: float) -> NDArray[np.uint8]:
    """Rotated counter-clockwise about the centre, canvas grown to keep every pixel."""
    height, width = image.shape[:2]
    matrix = cv2.getRotationMatrix2D((width / 2, height / 2), degrees, 1.0)
    cos, sin = abs(matrix[0, 0]), abs(matrix[0, 1])
    new_w, new_h = int(height * sin + width * cos), int(height * cos + width * sin)
    matrix[:, 2] += (new_w - width) / 2, (new_h - height) / 2
    return cv2.warpAffine(image, matrix, (new_w, new_h), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
