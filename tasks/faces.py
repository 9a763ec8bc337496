"""Per-image face work (decode, detect, align, embed) as Dask-friendly batch tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np
from numpy.typing import NDArray
from prefect import task
from prefect.cache_policies import NONE

from expectations.quality import validate
from facelead.casework import FaceChoice, SearchRefused, face_choice
from facelead.digest import sha256_hex
from facelead.intake.batches import BatchContext, BatchResult, GatedFace, ProbeFace, batch_result
from facelead.intake.inputs import HashedRef, ImageBatch, RefusedInput
from facelead.settings import QualityBar, Settings
from models.faces import FaceModels, FaceVector, MeasuredFace, embed_measured, load, measure_face
from models.image import ImageDecodeError, decode_image
from models.manifest import load_manifest
from models.store import prepare_model

Measured = tuple[HashedRef, MeasuredFace]  # gallery image and its subject's face
Enrolled = tuple[HashedRef, FaceVector]


def face_models(settings: Settings, recogniser_manifest: str | None = None) -> FaceModels:
    """Prepare (hash-check, convert, cache) the configured detector and recogniser (or the
    recogniser of ``recogniser_manifest``, a manifest name or .toml path)."""
    cache = settings.model_cache
    return FaceModels(
        detector=prepare_model(load_manifest(settings.models.detector_manifest), cache),
        recogniser=prepare_model(load_manifest(recogniser_manifest or settings.models.recogniser_manifest), cache),
        threads=settings.models.threads,
        detector_score=settings.models.detector_score,
    )


def measure_image(item: HashedRef, models: FaceModels, max_pixels: int) -> Measured | RefusedInput:
    """The subject's face of one gallery image (``Detections.subject``: the most prominent,
    size and centrality together), aligned and measured, or why there is none. Never raises."""
    ref = item.ref
    try:
        data = Path(ref.path).read_bytes()
        if sha256_hex(data) != item.sha256:
            return RefusedInput(ref.path, ref.subject_id, item.sha256, "changed", f"{ref.path}: file changed during enrollment")
        image = decode_image(data, max_pixels)
        detector, embedder = load(models)
        detections = detector.detect(image)
        if not len(detections):
            return RefusedInput(ref.path, ref.subject_id, item.sha256, "no_face", f"{ref.path}: no face found")
        subject = detections.subject(image.shape[1], image.shape[0])
        return item, measure_face(image, detections, subject, detector, embedder.manifest.input_size)
    except ImageDecodeError as exc:
        return RefusedInput(ref.path, ref.subject_id, item.sha256, exc.reason, f"{ref.path}: {exc.detail}")
    except OSError as exc:
        return RefusedInput(ref.path, ref.subject_id, item.sha256, "unreadable", f"{ref.path}: {exc.strerror or exc}")
    except Exception as exc:  # one bad image must never fail the batch
        return RefusedInput(ref.path, ref.subject_id, item.sha256, "error", f"{ref.path}: {type(exc).__name__}: {exc}")


def gate_and_embed(measured: list[Measured], models: FaceModels, bar: QualityBar
                   ) -> tuple[list[Enrolled], list[RefusedInput], list[GatedFace]]:
    """Validate the faces with the gallery suite in one run; embed those that pass."""
    verdicts = validate("gallery", bar, [face.quality.as_row() for _, face in measured])
    passed = [(item, face) for (item, face), verdict in zip(measured, verdicts) if verdict.passed]
    refused = [RefusedInput(item.ref.path, item.ref.subject_id, item.sha256, "quality",
                       f"{item.ref.path}: below the gallery quality bar: {verdict.describe()}"
                       + (f" (face {face.face_index} chosen; competing: {'; '.join(face.rivals)})" if face.rivals else ""))
               for (item, face), verdict in zip(measured, verdicts) if not verdict.passed]
    vectors = embed_measured([face for _, face in passed], load(models)[1])
    gated = [GatedFace(item.sha256, item.ref.path, item.ref.subject_id, face.face_index, face.quality, verdict)
             for (item, face), verdict in zip(measured, verdicts)]
    return [(item, vector) for (item, _), vector in zip(passed, vectors)], refused, gated


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10])
def embed_batch(batch: ImageBatch, models: FaceModels, max_pixels: int, ctx: BatchContext,
                bar: QualityBar) -> BatchResult:
    """Measure, quality-gate and embed a batch of gallery images on a Dask worker.

    Returns the enrolled faces, the refusals and every face's quality verdict as Arrow tables.
    """
    outcomes = [measure_image(item, models, max_pixels) for item in batch.items]
    enrolled, failed, gated = gate_and_embed([o for o in outcomes if not isinstance(o, RefusedInput)], models, bar)
    return batch_result([*enrolled, *failed, *(o for o in outcomes if isinstance(o, RefusedInput))], gated, ctx)


def decoded_probe(data: bytes, max_pixels: int, where: str) -> NDArray[np.uint8]:
    """The probe's pixels; SearchRefused naming ``where`` and why when it does not decode."""
    try:
        return decode_image(data, max_pixels)
    except ImageDecodeError as exc:
        raise SearchRefused(exc.reason, f"{where}: {exc.detail}") from exc


def probe_face(path: str, models: FaceModels, max_pixels: int, face_index: int | None, bar: QualityBar) -> ProbeFace:
    """The probe's chosen face (``face_index``; may be left out when it shows one face),
    embedded and quality-checked.

    Raises SearchRefused when there is no usable face, or several and none chosen; a face below the quality bar is
    returned with its failed verdict for the flow to refuse or override.
    """
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SearchRefused("unreadable", f"{path}: cannot read probe ({exc.strerror or exc})") from exc
    image = decoded_probe(data, max_pixels, path)
    detector, embedder = load(models)
    detections = detector.detect(image)
    if not len(detections):
        raise SearchRefused("no_face", f"{path}: no face found in the probe")
    if face_index is None and len(detections) > 1:
        raise SearchRefused("choose_face", f"{path}: {len(detections)} faces; say which to search (--face N): " + "; ".join(
            f"face {i + 1}: {w:.0f}x{h:.0f} px at ({x:.0f}, {y:.0f}), detector score {s:.2f}"
            for i, ((x, y, w, h), s) in enumerate(zip(detections.boxes, detections.scores))))
    index = face_index or 0
    if not 0 <= index < len(detections):
        raise SearchRefused("no_such_face", f"{path}: face {index + 1} asked for, the probe has {len(detections)}")
    measured = measure_face(image, detections, index, detector, embedder.manifest.input_size)
    [verdict] = validate("probe", bar, [measured.quality.as_row()])
    [face] = embed_measured([measured], embedder)
    return ProbeFace(path, sha256_hex(data), face, verdict)


@dataclass(frozen=True)
class ProbeChoice:
    """One face found in a probe, as the analyst chooses among them: its number in detector
    order (from 0), box (x, y, w, h) in image pixels, and what the probe bar says of it."""

    index: int
    box: tuple[float, float, float, float]
    failures: str  # '' when it meets the probe bar


def probe_choices(data: bytes, models: FaceModels, max_pixels: int, bar: QualityBar
                  ) -> tuple[tuple[int, int], list[ProbeChoice]]:
    """((width, height), every face the detector finds in the probe with its quality verdict);
    raises SearchRefused for a probe that does not decode."""
    image = decoded_probe(data, max_pixels, "the probe")
    detector, embedder = load(models)
    found = detector.detect(image)
    measured = [measure_face(image, found, i, detector, embedder.manifest.input_size) for i in range(len(found))]
    verdicts = validate("probe", bar, [m.quality.as_row() for m in measured])
    return (image.shape[1], image.shape[0]), [
        ProbeChoice(i, tuple(float(v) for v in found.boxes[i][:4]), verdict.describe())
        for i, verdict in enumerate(verdicts)]


def choose_probe_face(data: bytes, settings: Settings, asked: int | None, override: str | None
                      ) -> tuple[tuple[int, int], list[ProbeChoice], FaceChoice]:
    """The probe's size, its faces and the face a request for it will search
    (``casework.face_choice``); SearchRefused for a probe with no face or that does not decode."""
    size, faces = probe_choices(data, face_models(settings), settings.max_image_pixels, settings.quality.probe)
    if not faces:
        raise SearchRefused("no_face", "no face was found in the probe photo; choose a clearer frame")
    return size, faces, face_choice([face.failures for face in faces], asked, override)


@task(cache_policy=NONE)
def embed_probe(path: str, models: FaceModels, max_pixels: int, face_index: int | None, bar: QualityBar) -> ProbeFace:
    """Decode, detect, choose, measure and embed the probe face; raises SearchRefused."""
    return probe_face(path, models, max_pixels, face_index, bar)
