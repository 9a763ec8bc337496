"""Map five facial landmarks onto the ArcFace 112x112 template."""

from __future__ import annotations

import cv2
import numpy as np
from numpy.typing import NDArray

# Right eye, left eye, nose tip, right and left mouth corner, in a 112x112 crop
# (the subject's right eye is on the image's left).
ARCFACE_TEMPLATE = np.array(
    [[38.2946, 51.6963], [73.5318, 51.5014], [56.0252, 71.7366], [41.5493, 92.3655], [70.7299, 92.2041]],
    dtype=np.float64,
)


def similarity_transform(src: NDArray, dst: NDArray) -> NDArray[np.float64]:
    """2x3 least-squares similarity (rotation, uniform scale, shift) taking src points to dst.

    Umeyama's closed form, the estimate ArcFace-family models were trained with.
    """
    src, dst = np.asarray(src, np.float64), np.asarray(dst, np.float64)
    src_mean, dst_mean = src.mean(0), dst.mean(0)
    src_c, dst_c = src - src_mean, dst - dst_mean
    cov = dst_c.T @ src_c / len(src)
    u, s, vt = np.linalg.svd(cov)
    d = np.ones(2)
    if np.linalg.det(u) * np.linalg.det(vt) < 0:
        d[-1] = -1
    rotation = u @ np.diag(d) @ vt
    scale = (s * d).sum() / src_c.var(0).sum()
    shift = dst_mean - scale * rotation @ src_mean
    return np.hstack([scale * rotation, shift[:, None]])


def roll_degrees(landmarks: NDArray) -> float:
    """Angle of the eye line (right eye to left eye) from horizontal, degrees; 0 is level."""
    dx, dy = np.asarray(landmarks[1], np.float64) - np.asarray(landmarks[0], np.float64)
    return float(np.degrees(np.arctan2(dy, dx)))


def template_for(size: tuple[int, int]) -> NDArray[np.float64]:
    """The ArcFace template scaled to a model's (width, height) input."""
    return ARCFACE_TEMPLATE * np.array([size[0] / 112.0, size[1] / 112.0])


def align_face(image: NDArray[np.uint8], landmarks: NDArray, size: tuple[int, int] = (112, 112)) -> NDArray[np.uint8]:
    """(H,W,3) image and (5,2) landmarks -> (size[1], size[0], 3) aligned crop."""
    matrix = similarity_transform(landmarks, template_for(size))
    return cv2.warpAffine(image, matrix, size, flags=cv2.INTER_LINEAR, borderValue=(0, 0, 0))
