"""Image-quality measurements of one detected face: pure functions, no thresholds.

Units and meaning of every metric (the quality suites in ``expectations`` set
the bars):

- ``image_width``, ``image_height``: the upright image in pixels.
- ``is_colour``: False when the face's three channels are (near) equal, i.e. a greyscale photo.
- ``face_count``: faces the detector found in the image at its score threshold.
- ``rival_faces``: other faces nearly as prominent (size and centrality,
  ``models.detect.RIVAL_SHARE``) as the chosen one: with any, which face is the
  photo's subject is ambiguous.
- ``face_width_px``: width of the detector's face box, in image pixels.
- ``inter_eye_px``: distance between the two eye centres, in image pixels (ISO/IEC
  19794-5 and ICAO state resolution this way; the ArcFace template the recogniser reads
  places the eyes 35 px apart, so below that the model sees upsampled pixels).
- ``detector_score``: the detector's confidence, 0-1.
- ``sharpness``: variance of the Laplacian of the grey face region of the aligned
  112x112 crop (the same pixels the recogniser sees). Blur and upsampling lower it.
- ``brightness``: mean grey level of that face region, 0-255.
- ``clipped_fraction``: share of that region at or below 5 or at or above 250 (crushed
  shadows or blown highlights), 0-1.
- ``contrast``: standard deviation of the region's grey levels (RMS contrast), 0-128.
- ``roll_deg``: angle of the eye line from horizontal, degrees, signed.
- ``yaw_deg``, ``pitch_deg``: head turn and nod estimated from where the nose tip falls
  between the eyes and between eye line and mouth, on a generic head whose nose tip
  stands 0.45 inter-eye distances in front of the eyes; signed, 0 is frontal. They are
  proxies good to roughly +-10 degrees, enough to tell frontal from turned.
"""

from __future__ import annotations

import math
from dataclasses import asdict, dataclass

import cv2
import numpy as np
from numpy.typing import NDArray

from models.align import ARCFACE_TEMPLATE, roll_degrees

NOSE_DEPTH = 0.45  # nose tip in front of the eyes, in inter-eye distances (generic head)
# Where YuNet puts the nose tip between eye line (0) and mouth (1) on frontal faces: the
# median over faces-dev's labeled photos (the ArcFace template's own 0.49 sits higher).
FRONTAL_NOSE_DROP = 0.59
_MOUTH_DROP = float((ARCFACE_TEMPLATE[3:, 1].mean() - ARCFACE_TEMPLATE[:2, 1].mean())
                    / (ARCFACE_TEMPLATE[1, 0] - ARCFACE_TEMPLATE[0, 0]))  # eye-to-mouth / inter-eye
# Face region of a 112x112 aligned crop: brows to chin, cheek to cheek (template units).
FACE_REGION = (slice(36, 108), slice(24, 88))
CLIP_LOW, CLIP_HIGH = 5, 250


@dataclass(frozen=True)
class FaceQuality:
    """Quality measurements of one face; see the module docstring for units."""

    image_width: int
    image_height: int
    is_colour: bool
    face_count: int
    rival_faces: int
    face_width_px: float
    inter_eye_px: float
    detector_score: float
    sharpness: float
    brightness: float
    clipped_fraction: float
    contrast: float
    roll_deg: float
    yaw_deg: float
    pitch_deg: float

    def as_row(self) -> dict[str, float | int | bool]:
        return asdict(self)


METRICS = tuple(FaceQuality.__dataclass_fields__)


def is_colour(image: NDArray[np.uint8], tolerance: int = 4) -> bool:
    """True when over 1% of pixels have channels more than ``tolerance`` grey levels apart."""
    spread = image.max(axis=2).astype(np.int16) - image.min(axis=2)
    return bool((spread > tolerance).mean() > 0.01)


def pose(landmarks: NDArray) -> tuple[float, float, float]:
    """(roll, yaw, pitch) in degrees from five landmarks (right eye, left eye, nose, mouth corners)."""
    marks = np.asarray(landmarks, np.float64)
    roll = math.radians(roll_degrees(marks))
    c, s = math.cos(roll), math.sin(roll)
    upright = (marks - marks[:2].mean(0)) @ np.array([[c, -s], [s, c]])  # eye line horizontal
    inter_eye = max(float(np.hypot(*(marks[1] - marks[0]))), 1e-6)
    nose, mouth_mid = upright[2], upright[3:].mean(0)
    yaw = math.atan2(nose[0] - mouth_mid[0] / 2, NOSE_DEPTH * inter_eye)
    mouth_drop = max(mouth_mid[1], 1e-6)
    pitch = math.atan2((nose[1] / mouth_drop - FRONTAL_NOSE_DROP) * _MOUTH_DROP, NOSE_DEPTH)
    return math.degrees(roll), math.degrees(yaw), math.degrees(pitch)


def crop_quality(aligned: NDArray[np.uint8]) -> tuple[float, float, float, float]:
    """(sharpness, brightness, clipped_fraction, contrast) of an aligned crop's face region."""
    scale_y, scale_x = aligned.shape[0] / 112.0, aligned.shape[1] / 112.0
    rows = slice(int(FACE_REGION[0].start * scale_y), int(FACE_REGION[0].stop * scale_y))
    cols = slice(int(FACE_REGION[1].start * scale_x), int(FACE_REGION[1].stop * scale_x))
    grey = cv2.cvtColor(np.ascontiguousarray(aligned[rows, cols]), cv2.COLOR_RGB2GRAY)
    sharpness = float(cv2.Laplacian(grey, cv2.CV_64F).var())
    clipped = float(((grey <= CLIP_LOW) | (grey >= CLIP_HIGH)).mean())
    return sharpness, float(grey.mean()), clipped, float(grey.std())


def face_quality(image: NDArray[np.uint8], box: NDArray, landmarks: NDArray, score: float,
                 face_count: int, rival_faces: int, aligned: NDArray[np.uint8]) -> FaceQuality:
    """Every quality metric of one face of ``image`` (RGB), given its aligned crop."""
    roll, yaw, pitch = pose(landmarks)
    sharpness, brightness, clipped, contrast = crop_quality(aligned)
    return FaceQuality(
        image_width=int(image.shape[1]),
        image_height=int(image.shape[0]),
        is_colour=is_colour(aligned),
        face_count=int(face_count),
        rival_faces=int(rival_faces),
        face_width_px=float(box[2]),
        inter_eye_px=float(np.hypot(*(np.asarray(landmarks[1], np.float64) - landmarks[0]))),
        detector_score=float(score),
        sharpness=sharpness,
        brightness=brightness,
        clipped_fraction=clipped,
        contrast=contrast,
        roll_deg=roll,
        yaw_deg=yaw,
        pitch_deg=pitch,
    )
