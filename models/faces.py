"""Detector and recogniser together: the per-image work of enrollment and search."""

from __future__ import annotations

import functools
import io
from dataclasses import dataclass, fields
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from PIL import Image

from facelead.digest import file_sha256
from models.align import align_face
from models.detect import Detections, FaceDetector
from models.embed import Embedder
from models.quality import FaceQuality, face_quality
from models.session import make_session
from models.store import ModelHashError, PreparedModel, prepare_model

THUMBNAIL_PX = 160


@dataclass(frozen=True)
class FaceModels:
    """Picklable handles to prepared models; every process turns them into sessions once."""

    detector: PreparedModel
    recogniser: PreparedModel
    threads: int
    detector_score: float


@dataclass(frozen=True)
class FaceRecord:
    """One detected face: where it is, how sure the detector was, its quality, a JPEG thumbnail."""

    face_index: int
    face_count: int
    box: NDArray[np.float32]
    landmarks: NDArray[np.float32]
    score: float
    quality: FaceQuality
    thumbnail: bytes


@dataclass(frozen=True)
class MeasuredFace(FaceRecord):
    """A face aligned and measured, not yet embedded; keeps no full image. ``rivals`` names
    the faces that compete with it as the photo's subject (``Detections.rivals``)."""

    aligned: NDArray[np.uint8]
    rivals: tuple[str, ...] = ()


@dataclass(frozen=True)
class FaceVector(FaceRecord):
    """A face and its embedding."""

    vector: NDArray[np.float32]


def local_model_path(model: PreparedModel) -> Path:
    """The model file on this machine, checked against the hash the flow prepared.

    A Dask worker on another machine lacks the flow's file: it prepares its own from the
    installed package into its own model cache (its FACELEAD_DATA_DIR), once.
    """
    if model.path.is_file():
        path = model.path
    else:
        from facelead.settings import current_settings

        path = prepare_model(model.manifest, current_settings().model_cache).path
    if file_sha256(path) != model.sha256:
        raise ModelHashError(f"model {model.manifest.id}: {path} differs from the expected {model.sha256[:12]}")
    return path


@functools.cache
def load(models: FaceModels) -> tuple[FaceDetector, Embedder]:
    """Detector and embedder for ``models``, created once per process."""
    det = models.detector
    rec = models.recogniser
    return (
        FaceDetector(make_session(local_model_path(det), models.threads), det.manifest, models.detector_score),
        Embedder(make_session(local_model_path(rec), models.threads), rec.manifest),
    )


def crop_box(image: NDArray[np.uint8], box: NDArray, margin: float) -> NDArray[np.uint8]:
    """The x,y,w,h box grown by ``margin`` of its size on each side, clipped to the image."""
    x, y, w, h = box
    x0, y0 = int(max(0, x - margin * w)), int(max(0, y - margin * h))
    x1, y1 = int(min(image.shape[1], x + (1 + margin) * w)), int(min(image.shape[0], y + (1 + margin) * h))
    return image[y0:max(y1, y0 + 1), x0:max(x1, x0 + 1)]


def thumbnail(image: NDArray[np.uint8], box: NDArray, margin: float = 0.25) -> bytes:
    """JPEG of the face box grown by ``margin`` on each side, at most THUMBNAIL_PX a side."""
    crop = Image.fromarray(crop_box(image, box, margin))
    crop.thumbnail((THUMBNAIL_PX, THUMBNAIL_PX))
    out = io.BytesIO()
    crop.save(out, format="JPEG", quality=88)
    return out.getvalue()


def measure_face(image: NDArray[np.uint8], detections: Detections, index: int, detector: FaceDetector,
                 input_size: tuple[int, int]) -> MeasuredFace:
    """Level the landmarks of face ``index`` if it is rolled, align it and measure its quality."""
    box = detections.boxes[index]
    rivals = detections.rivals(index, image.shape[1], image.shape[0])
    landmarks = detector.level_landmarks(image, box, detections.landmarks[index])
    aligned = align_face(image, landmarks, input_size)
    score = float(detections.scores[index])
    return MeasuredFace(
        face_index=index, face_count=len(detections), box=box, landmarks=landmarks, score=score, aligned=aligned,
        quality=face_quality(image, box, landmarks, score, len(detections), len(rivals), aligned),
        thumbnail=thumbnail(image, box), rivals=tuple(describe_box(i, detections.boxes[i]) for i in rivals),
    )


def describe_box(index: int, box: NDArray) -> str:
    """A face as a person finds it in the photo: "face 2 at x=310, y=42, 85 px wide"."""
    return f"face {index} at x={int(box[0])}, y={int(box[1])}, {int(box[2])} px wide"


def embed_measured(faces: list[MeasuredFace], embedder: Embedder) -> list[FaceVector]:
    """Embed measured faces in one batch."""
    if not faces:
        return []
    vectors = embedder.embed(np.stack([f.aligned for f in faces]))
    return [FaceVector(**{field.name: getattr(f, field.name) for field in fields(FaceRecord)}, vector=vector)
            for f, vector in zip(faces, vectors)]
