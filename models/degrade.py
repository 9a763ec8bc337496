"""Synthetic degradations of a photo, each the kind of damage a quality gate must catch.

Pure functions on (H,W,3) uint8 RGB arrays; used to measure where quality bars sit, to
test that the gate refuses what it should, and to report what a poor frame costs.
"""

from __future__ import annotations

from dataclasses import dataclass

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


def jpeg(image: NDArray[np.uint8], quality: int) -> NDArray[np.uint8]:
    """The image after one JPEG round trip at ``quality`` (1-100): blocking, ringing, lost detail."""
    ok, encoded = cv2.imencode(".jpg", cv2.cvtColor(image, cv2.COLOR_RGB2BGR), [cv2.IMWRITE_JPEG_QUALITY, quality])
    if not ok:
        raise ValueError("JPEG encoding failed")
    return cv2.cvtColor(cv2.imdecode(encoded, cv2.IMREAD_COLOR), cv2.COLOR_BGR2RGB)


@dataclass(frozen=True)
class Degradation:
    """One way a surveillance frame is worse than a booking photo, sized to the face."""

    label: str
    kind: str  # "inter_eye" (downscale to amount px), "blur" (sigma amount x inter-eye), "jpeg", "darken"
    amount: float

    def apply(self, image: NDArray[np.uint8], inter_eye_px: float) -> NDArray[np.uint8]:
        if self.kind == "inter_eye":
            return downscale_to_inter_eye(image, inter_eye_px, self.amount)
        if self.kind == "blur":
            return blur(image, self.amount * inter_eye_px)
        if self.kind == "jpeg":
            return jpeg(image, int(self.amount))
        if self.kind == "darken":
            return darken(image, self.amount)
        raise ValueError(f"unknown degradation kind {self.kind!r}")


SURVEILLANCE = (
    Degradation("40 px between the eyes", "inter_eye", 40),
    Degradation("30 px between the eyes", "inter_eye", 30),
    Degradation("20 px between the eyes", "inter_eye", 20),
    Degradation("blurred (sigma 1/20 of the eye distance)", "blur", 0.05),
    Degradation("JPEG quality 30", "jpeg", 30),
    Degradation("darkened to 25%", "darken", 0.25),
)
