"""Per-image face work (decode, detect, align, embed) as Dask-friendly batch tasks."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from prefect import task
from prefect.cache_policies import NONE

from facelead.models.faces import FaceModels, FaceVector, embed_face, load
from facelead.models.image import ImageDecodeError, decode_image, sha256_hex
from facelead.models.manifest import load_manifest
from facelead.models.store import prepare_model
from facelead.settings import Settings
from facelead.tasks.batches import BatchContext, BatchResult, batch_result
from facelead.tasks.inputs import HashedRef, Refused
from facelead.tasks.search import SearchRefused


Enrolled = tuple[HashedRef, int, int, FaceVector]  # image, width, height, chosen face


@dataclass(frozen=True)
class ProbeFace:
    path: str
    sha256: str
    face: FaceVector


def face_models(settings: Settings) -> FaceModels:
    """Prepare (hash-check, convert, cache) the configured detector and recogniser."""
    cache = settings.model_cache
    return FaceModels(
        detector=prepare_model(load_manifest(settings.models.detector_manifest), cache),
        recogniser=prepare_model(load_manifest(settings.models.recogniser_manifest), cache),
        threads=settings.models.threads,
        detector_score=settings.models.detector_score,
        cache_dir=cache,
    )


def enroll_image(item: HashedRef, models: FaceModels, max_pixels: int) -> Enrolled | Refused:
    """The largest face of one gallery image, or why there is none. Never raises."""
    ref = item.ref
    try:
        data = Path(ref.path).read_bytes()
        if sha256_hex(data) != item.sha256:
            return Refused(ref.path, ref.subject_id, item.sha256, "changed", f"{ref.path}: file changed during enrollment")
        image = decode_image(data, max_pixels)
        detector, embedder = load(models)
        detections = detector.detect(image)
        if not len(detections):
            return Refused(ref.path, ref.subject_id, item.sha256, "no_face", f"{ref.path}: no face found")
        face = embed_face(image, detections, detections.largest(), embedder)
        return item, image.shape[1], image.shape[0], face
    except ImageDecodeError as exc:
        return Refused(ref.path, ref.subject_id, item.sha256, exc.reason, f"{ref.path}: {exc.detail}")
    except OSError as exc:
        return Refused(ref.path, ref.subject_id, item.sha256, "unreadable", f"{ref.path}: {exc.strerror or exc}")
    except Exception as exc:  # one bad image must never fail the batch
        return Refused(ref.path, ref.subject_id, item.sha256, "error", f"{ref.path}: {type(exc).__name__}: {exc}")


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10])
def embed_batch(items: list[HashedRef], models: FaceModels, max_pixels: int, ctx: BatchContext) -> BatchResult:
    """Enrolled faces and refusals of a batch as Arrow tables; runs on a Dask worker."""
    return batch_result([enroll_image(item, models, max_pixels) for item in items], ctx)


def probe_face(path: str, models: FaceModels, max_pixels: int, face_index: int | None) -> ProbeFace:
    """The probe's chosen face (largest unless ``face_index``), embedded; raises SearchRefused."""
    try:
        data = Path(path).read_bytes()
    except OSError as exc:
        raise SearchRefused("unreadable", f"{path}: cannot read probe ({exc.strerror or exc})") from exc
    try:
        image = decode_image(data, max_pixels)
    except ImageDecodeError as exc:
        raise SearchRefused(exc.reason, f"{path}: {exc.detail}") from exc
    detector, embedder = load(models)
    detections = detector.detect(image)
    if not len(detections):
        raise SearchRefused("no_face", f"{path}: no face found in the probe")
    index = detections.largest() if face_index is None else face_index
    if not 0 <= index < len(detections):
        raise SearchRefused("no_such_face", f"{path}: face {index + 1} asked for, the probe has {len(detections)}")
    return ProbeFace(path, sha256_hex(data), embed_face(image, detections, index, embedder))


@task(cache_policy=NONE)
def embed_probe(path: str, models: FaceModels, max_pixels: int, face_index: int | None) -> ProbeFace:
    """Decode, detect, choose and embed the probe face; raises SearchRefused."""
    return probe_face(path, models, max_pixels, face_index)
