"""Arrow tables that carry a batch's enrolled faces and refusals from workers to the writer.

Column sets follow warehouse/queries/insert_enrolled.sql and insert_refusals.sql.
"""

from __future__ import annotations

from dataclasses import dataclass

import pyarrow as pa

from facelead.models.faces import FaceVector
from facelead.tasks.inputs import HashedRef, Refused

TIMESTAMP = pa.timestamp("us", tz="UTC")


@dataclass(frozen=True)
class BatchContext:
    """What every row of a batch shares: where it goes and which models made it."""

    gallery_id: str
    run_id: str
    model_id: str
    detector_id: str


@dataclass(frozen=True)
class BatchResult:
    """One batch's outcome: enrolled faces and refusals, ready for the warehouse."""

    enrolled: pa.Table
    refused: pa.Table

    def refusal_lines(self) -> list[tuple[str, str]]:
        """(reason, detail) of each refusal."""
        return list(zip(self.refused.column("reason").to_pylist(), self.refused.column("detail").to_pylist()))


def face_id(sha256: str, face_index: int) -> str:
    return f"{sha256}/{face_index}"


def enrolled_table(items: list[tuple[HashedRef, int, int, FaceVector]], ctx: BatchContext) -> pa.Table:
    """One row per (image, width, height, chosen face)."""
    n = len(items)
    refs = [item.ref for item, _, _, _ in items]
    faces = [face for _, _, _, face in items]
    return pa.table({
        "gallery_id": [ctx.gallery_id] * n,
        "run_id": [ctx.run_id] * n,
        "model_id": [ctx.model_id] * n,
        "detector_id": [ctx.detector_id] * n,
        "subject_id": pa.array([r.subject_id for r in refs], pa.string()),
        "sha256": pa.array([item.sha256 for item, _, _, _ in items], pa.string()),
        "source_path": pa.array([r.path for r in refs], pa.string()),
        "source": pa.array([r.source for r in refs], pa.string()),
        "acquired_at": pa.array([r.acquired_at for r in refs], TIMESTAMP),
        "width": pa.array([w for _, w, _, _ in items], pa.int32()),
        "height": pa.array([h for _, _, h, _ in items], pa.int32()),
        "face_count": pa.array([f.face_count for f in faces], pa.int32()),
        "face_id": pa.array([face_id(item.sha256, face.face_index) for item, _, _, face in items], pa.string()),
        "face_index": pa.array([f.face_index for f in faces], pa.int32()),
        "box": pa.array([f.box.tolist() for f in faces], pa.list_(pa.float32(), 4)),
        "landmarks": pa.array([f.landmarks.reshape(-1).tolist() for f in faces], pa.list_(pa.float32(), 10)),
        "detector_score": pa.array([f.score for f in faces], pa.float32()),
        "thumbnail": pa.array([f.thumbnail for f in faces], pa.binary()),
        "vector": pa.array([f.vector.tolist() for f in faces], pa.list_(pa.float32())),
    })


def refused_table(items: list[Refused], ctx: BatchContext) -> pa.Table:
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


def batch_result(outcomes: list, ctx: BatchContext) -> BatchResult:
    """Split per-image outcomes (Refused, or (HashedRef, width, height, FaceVector)) into tables."""
    refused = [o for o in outcomes if isinstance(o, Refused)]
    enrolled = [o for o in outcomes if not isinstance(o, Refused)]
    return BatchResult(enrolled_table(enrolled, ctx), refused_table(refused, ctx))
