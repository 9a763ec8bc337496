"""Arrow tables that carry a batch's enrolled faces, refusals and quality verdicts from
workers to the writer.

Column sets follow warehouse/queries/insert_enrolled.sql, insert_refusals.sql and
insert_quality.sql.
"""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from typing import Any

import numpy as np
import pyarrow as pa
import pyarrow.compute as pc

from expectations.quality import QualityVerdict
from facelead.intake.inputs import HashedRef, RefusedInput
from models.faces import FaceVector
from models.quality import METRICS, FaceQuality
from models.synthetic import SyntheticGallery

TIMESTAMP = pa.timestamp("us", tz="UTC")
METRIC_TYPES = {name: {"int": pa.int32(), "bool": pa.bool_(), "float": pa.float64()}[field.type]
                for name, field in FaceQuality.__dataclass_fields__.items()}


@dataclass(frozen=True)
class BatchContext:
    """What every row of a batch shares: where it goes and which models made it."""

    gallery_id: str
    run_id: str
    model_id: str
    detector_id: str


@dataclass(frozen=True)
class GatedFace:
    """One face's quality measurements and its verdict under a quality suite."""

    sha256: str
    source_path: str
    subject_id: str | None
    face_index: int
    quality: FaceQuality
    verdict: QualityVerdict


@dataclass(frozen=True)
class ProbeFace:
    """The probe's chosen face, embedded, and its verdict under the probe quality suite."""

    path: str
    sha256: str
    face: FaceVector
    verdict: QualityVerdict


@dataclass(frozen=True)
class QualityTables:
    """Quality verdicts: one row per face (``validations``) and one per check (``results``)."""

    validations: pa.Table
    results: pa.Table

    def failed_checks(self) -> list[str]:
        """The reason of every failed check, one entry per face and check."""
        failed = self.results.filter(pc.invert(self.results.column("passed")))
        return failed.column("reason").to_pylist()


@dataclass(frozen=True)
class BatchResult:
    """One batch's outcome: enrolled faces, refusals and quality verdicts, ready for the warehouse."""

    enrolled: pa.Table
    refused: pa.Table
    quality: QualityTables

    def refusal_lines(self) -> list[tuple[str, str]]:
        """(reason, detail) of each refusal."""
        return list(zip(self.refused.column("reason").to_pylist(), self.refused.column("detail").to_pylist()))


def face_id(sha256: str, face_index: int) -> str:
    return f"{sha256}/{face_index}"


def _enrolled(ctx: BatchContext, n: int, columns: dict[str, Any]) -> pa.Table:
    """``n`` enrolled faces of the batch ``ctx``: its gallery, run and models, then ``columns``."""
    return pa.table({"gallery_id": [ctx.gallery_id] * n, "run_id": [ctx.run_id] * n, "model_id": [ctx.model_id] * n,
                     "detector_id": [ctx.detector_id] * n, **columns})


def enrolled_table(items: list[tuple[HashedRef, FaceVector]], ctx: BatchContext) -> pa.Table:
    """One row per (image, chosen face)."""
    n = len(items)
    refs = [item.ref for item, _ in items]
    faces = [face for _, face in items]
    return _enrolled(ctx, n, {
        "subject_id": pa.array([r.subject_id for r in refs], pa.string()),
        "sha256": pa.array([item.sha256 for item, _ in items], pa.string()),
        "source_path": pa.array([r.path for r in refs], pa.string()),
        "source": pa.array([r.source for r in refs], pa.string()),
        "acquired_at": pa.array([r.acquired_at for r in refs], TIMESTAMP),
        "width": pa.array([f.quality.image_width for f in faces], pa.int32()),
        "height": pa.array([f.quality.image_height for f in faces], pa.int32()),
        "face_count": pa.array([f.face_count for f in faces], pa.int32()),
        "face_id": pa.array([face_id(item.sha256, face.face_index) for item, face in items], pa.string()),
        "face_index": pa.array([f.face_index for f in faces], pa.int32()),
        "box": pa.array([f.box.tolist() for f in faces], pa.list_(pa.float32(), 4)),
        "landmarks": pa.array([f.landmarks.reshape(-1).tolist() for f in faces], pa.list_(pa.float32(), 10)),
        "detector_score": pa.array([f.score for f in faces], pa.float32()),
        "thumbnail": pa.array([f.thumbnail for f in faces], pa.binary()),
        "vector": pa.array([f.vector.tolist() for f in faces], pa.list_(pa.float32())),
    })


def synthetic_table(gallery: SyntheticGallery, ctx: BatchContext, name: str, first: int = 0) -> pa.Table:
    """``gallery``'s vectors as enrolled faces with no picture (faces ``<name>-<first + row>``,
    subjects ``<name>-<subject>``), to measure and test searches of galleries larger than any
    set of photos at hand."""
    n, dim = gallery.vectors.shape
    ids = [f"{name}-{first + i:08d}" for i in range(n)]
    zeros = np.zeros(n, np.float32)
    return _enrolled(ctx, n, {
        "subject_id": pa.array([f"{name}-{s}" for s in gallery.subjects.tolist()], pa.string()),
        "sha256": pa.array(ids, pa.string()),
        "source_path": pa.array([""] * n, pa.string()),
        "source": pa.array([name] * n, pa.string()),
        "acquired_at": pa.nulls(n, TIMESTAMP),
        "width": pa.array(np.zeros(n, np.int32)),
        "height": pa.array(np.zeros(n, np.int32)),
        "face_count": pa.array(np.ones(n, np.int32)),
        "face_id": pa.array([f"{i}/0" for i in ids], pa.string()),
        "face_index": pa.array(np.zeros(n, np.int32)),
        "box": pa.FixedSizeListArray.from_arrays(np.zeros(4 * n, np.float32), 4),
        "landmarks": pa.FixedSizeListArray.from_arrays(np.zeros(10 * n, np.float32), 10),
        "detector_score": pa.array(zeros),
        "thumbnail": pa.array([b""] * n, pa.binary()),
        "vector": pa.ListArray.from_arrays(np.arange(0, n * dim + 1, dim, dtype=np.int32),
                                           np.ascontiguousarray(gallery.vectors, np.float32).ravel()),
    })


def refused_table(items: list[RefusedInput], ctx: BatchContext) -> pa.Table:
    n = len(items)
    return pa.table({
        "gallery_id": [ctx.gallery_id] * n,
        "model_id": [ctx.model_id] * n,
        "source_path": pa.array([r.path for r in items], pa.string()),
        "sha256": pa.array([r.sha256 for r in items], pa.string()),
        "subject_id": pa.array([r.subject_id for r in items], pa.string()),
        "reason": pa.array([r.reason for r in items], pa.string()),
        "detail": pa.array([r.detail for r in items], pa.string()),
        "run_id": [ctx.run_id] * n,
    })


def quality_tables(faces: list[GatedFace], context: str, context_id: str, gallery_id: str) -> QualityTables:
    """Verdicts of ``faces`` checked during an enrollment run or a search (``context_id``)."""
    ids = [str(uuid.uuid4()) for _ in faces]
    validations = pa.table({
        "check_id": pa.array(ids, pa.string()),
        "context": pa.array([context] * len(faces), pa.string()),
        "context_id": pa.array([context_id] * len(faces), pa.string()),
        "gallery_id": pa.array([gallery_id] * len(faces), pa.string()),
        "image_sha256": pa.array([f.sha256 for f in faces], pa.string()),
        "source_path": pa.array([f.source_path for f in faces], pa.string()),
        "subject_id": pa.array([f.subject_id for f in faces], pa.string()),
        "face_index": pa.array([f.face_index for f in faces], pa.int32()),
        "suite": pa.array([f.verdict.suite for f in faces], pa.string()),
        "suite_version": pa.array([f.verdict.suite_version for f in faces], pa.string()),
        "passed": pa.array([f.verdict.passed for f in faces], pa.bool_()),
        "failed_checks": pa.array([f.verdict.describe() for f in faces], pa.string()),
        **{metric: pa.array([getattr(f.quality, metric) for f in faces], METRIC_TYPES[metric]) for metric in METRICS},
    })
    checks = [(check_id, c) for check_id, f in zip(ids, faces) for c in f.verdict.checks]
    results = pa.table({
        "check_id": pa.array([i for i, _ in checks], pa.string()),
        "expectation": pa.array([c.check for _, c in checks], pa.string()),
        "metric": pa.array([c.metric for _, c in checks], pa.string()),
        "passed": pa.array([c.passed for _, c in checks], pa.bool_()),
        "observed": pa.array([c.observed for _, c in checks], pa.float64()),
        "min_value": pa.array([c.min_value for _, c in checks], pa.float64()),
        "max_value": pa.array([c.max_value for _, c in checks], pa.float64()),
        "reason": pa.array([c.reason for _, c in checks], pa.string()),
    })
    return QualityTables(validations, results)


def batch_result(outcomes: list, gated: list[GatedFace], ctx: BatchContext) -> BatchResult:
    """Split per-image outcomes (RefusedInput, or (HashedRef, FaceVector)) and verdicts into tables."""
    refused = [o for o in outcomes if isinstance(o, RefusedInput)]
    enrolled = [o for o in outcomes if not isinstance(o, RefusedInput)]
    return BatchResult(enrolled_table(enrolled, ctx), refused_table(refused, ctx),
                       quality_tables(gated, "enrollment", ctx.run_id, ctx.gallery_id))


def probe_quality_tables(probe: ProbeFace, search_id: str, gallery_id: str) -> QualityTables:
    """The verdict of a search's probe face, as the rows the warehouse keeps."""
    face = probe.face
    return quality_tables([GatedFace(probe.sha256, probe.path, None, face.face_index, face.quality, probe.verdict)],
                          "search", search_id, gallery_id)
