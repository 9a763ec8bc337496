"""Galleries in the warehouse: enrollment, faces and vectors, index builds, calibrations,
evaluations, subjects' attributes and the operators' marks of possible duplicates."""

from __future__ import annotations

from datetime import datetime, timedelta, timezone

import duckdb
import numpy as np
import pyarrow as pa

from models.calibration import Calibration, PossibleDuplicate
from models.index import GalleryVectors
from warehouse.records import EvaluationRecord, IndexBuildRecord, StoredBuild, parameters
from warehouse.sql import dicts, now, one, query, registered


def ensure_gallery(conn: duckdb.DuckDBPyConnection, gallery_id: str) -> None:
    conn.execute(query("ensure_gallery"), [gallery_id, now()])


def register_model(conn: duckdb.DuckDBPyConnection, model_id: str, manifest_id: str, role: str, sha256: str,
                   output_dim: int | None, licence: str) -> None:
    conn.execute(query("register_model"), [model_id, manifest_id, role, sha256, output_dim, licence, now()])


def known_hashes(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, suite_version: str) -> set[str]:
    """Content hashes this gallery has enrolled or refused for this model (quality refusals
    only if made by gallery suite ``suite_version``)."""
    rows = conn.execute(query("known_hashes"), {"gallery_id": gallery_id, "model_id": model_id,
                                                "suite_version": suite_version}).fetchall()
    return {row[0] for row in rows}


def start_enrollment_run(conn: duckdb.DuckDBPyConnection, run_id: str, gallery_id: str, model_id: str,
                         source: str, actor: str) -> None:
    conn.execute(query("start_enrollment_run"), [run_id, gallery_id, model_id, source, actor, now()])


def finish_enrollment_run(conn: duckdb.DuckDBPyConnection, run_id: str, seen: int, enrolled: int,
                          duplicates: int, refused: int) -> None:
    conn.execute(query("finish_enrollment_run"), [now(), seen, enrolled, duplicates, refused, run_id])


def insert_enrolled(conn: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    """Insert subjects, images, faces, embeddings and enrollments from one Arrow batch."""
    with registered(conn, "enrolled_batch", batch):
        conn.execute(query("insert_enrolled"))


def insert_refusals(conn: duckdb.DuckDBPyConnection, batch: pa.Table) -> None:
    with registered(conn, "refused_batch", batch):
        conn.execute(query("insert_refusals"))


def insert_quality(conn: duckdb.DuckDBPyConnection, validations: pa.Table, results: pa.Table) -> None:
    """Insert quality verdicts: one row per face checked and one per expectation."""
    with registered(conn, "validation_batch", validations), registered(conn, "result_batch", results):
        conn.execute(query("insert_quality"))


def _vectors(conn: duckdb.DuckDBPyConnection, name: str, params: list | dict) -> GalleryVectors:
    """The faces a query returning face_id, subject_id, vector names."""
    table = conn.sql(query(name), params=params).to_arrow_table()
    if not table.num_rows:
        return GalleryVectors([], [], np.zeros((0, 0), np.float32))
    values = table.column("vector").combine_chunks()
    matrix = values.values.to_numpy(zero_copy_only=False).astype(np.float32).reshape(table.num_rows, -1)
    return GalleryVectors(table.column("face_id").to_pylist(), table.column("subject_id").to_pylist(), matrix)


def gallery_vectors(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, as_of: datetime) -> GalleryVectors:
    """Every face enrolled up to ``as_of``, and not removed."""
    return _vectors(conn, "gallery_vectors", {"gallery_id": gallery_id, "model_id": model_id, "as_of": as_of})


def gallery_size(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str) -> int:
    return conn.execute(query("gallery_size"), [gallery_id, model_id]).fetchone()[0]


def remove_subject(conn: duckdb.DuckDBPyConnection, gallery_id: str, subject_id: str) -> list[str]:
    """Hide a subject's faces in a gallery from every search; the face ids removed."""
    return [row[0] for row in conn.execute(query("remove_subject"), [gallery_id, subject_id]).fetchall()]


def active_build(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str) -> StoredBuild | None:
    """The serving index build of a gallery and model, or None."""
    row = one(conn.execute(query("active_build"), [gallery_id, model_id]))
    return None if row is None else StoredBuild.from_row(row)


def record_build(conn: duckdb.DuckDBPyConnection, build: IndexBuildRecord, members: pa.Table) -> None:
    """Make ``build`` the serving build of its gallery and model (call inside a transaction)."""
    conn.execute(query("retire_builds"), [build.gallery_id, build.model_id])
    conn.execute(query("insert_build"), parameters(build))
    with registered(conn, "member_batch", members):
        conn.execute(query("insert_members"), [build.build_id])


# A transaction that enrolled faces may have started before a build read its gallery and
# committed after: its faces carry the earlier time yet are not in the build. Enrollment
# transactions are one batch long (about a second); ten minutes is far beyond any.
IN_FLIGHT_MARGIN = timedelta(minutes=10)


def delta_vectors(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, build: StoredBuild,
                  as_of: datetime) -> GalleryVectors:
    """The faces enrolled since ``build`` read its gallery and up to ``as_of``, not removed
    and not in it. Looked for among those enrolled since the build's snapshot less
    ``IN_FLIGHT_MARGIN`` (a build from before snapshots were recorded: all), so that the
    usual answer, none, costs a range scan and not a join with the build's members."""
    since = build.snapshot_at - IN_FLIGHT_MARGIN if build.snapshot_at else datetime.min.replace(tzinfo=timezone.utc)
    params = {"gallery_id": gallery_id, "model_id": model_id, "since": since, "as_of": as_of}
    if not conn.execute(query("recent_enrollments"), params).fetchall()[0][0]:
        return GalleryVectors([], [], np.zeros((0, 0), np.float32))
    return _vectors(conn, "delta_vectors", {**params, "build_id": build.build_id})


def get_build(conn: duckdb.DuckDBPyConnection, build_id: str) -> StoredBuild | None:
    row = one(conn.execute(query("get_build"), [build_id]))
    return None if row is None else StoredBuild.from_row(row)


def removed_members(conn: duckdb.DuckDBPyConnection, gallery_id: str, model_id: str, build_id: str) -> set[tuple[int, int]]:
    """(shard, row) of build members removed or purged since the build."""
    return set(conn.execute(query("removed_members"), [gallery_id, model_id, build_id]).fetchall())


def insert_evaluation(conn: duckdb.DuckDBPyConnection, record: EvaluationRecord,
                      calibration: Calibration | None) -> None:
    """An evaluation row and the calibration drawn from its impostor scores, if any."""
    conn.execute(query("insert_evaluation"), parameters(record))
    if calibration is not None:
        insert_calibration(conn, calibration)


def insert_calibration(conn: duckdb.DuckDBPyConnection, calibration: Calibration,
                       closest: list[PossibleDuplicate] = ()) -> None:
    """A calibration and, for a gallery's, its closest subject pairs."""
    scores = pa.ListArray.from_arrays([0, len(calibration.scores)], pa.array(calibration.scores, pa.float32()))
    row = pa.table({"calibration_id": [calibration.calibration_id], "model_id": [calibration.model_id],
                    "source": [calibration.source], "impostor_scores": scores, "created_at": [calibration.created_at],
                    "gallery_id": pa.array([calibration.gallery_id], pa.string()), "pairs": [calibration.pairs],
                    "faces": pa.array([calibration.faces], pa.int32())})
    with registered(conn, "calibration_batch", row):
        conn.execute(query("insert_calibration"))
    if closest:
        batch = pa.Table.from_pylist([{"calibration_id": calibration.calibration_id, "gallery_id": calibration.gallery_id,
                                       "rank": d.rank, "subject_a": d.subject_a, "face_a": d.face_a,
                                       "subject_b": d.subject_b, "face_b": d.face_b, "score": d.score} for d in closest])
        with registered(conn, "duplicates_batch", batch):
            conn.execute(query("insert_possible_duplicates"))


def latest_calibration(conn: duckdb.DuckDBPyConnection, model_id: str, gallery_id: str) -> Calibration | None:
    """The calibration searches of ``gallery_id`` read chances from (latest_calibration.sql)."""
    found = conn.sql(query("latest_calibration"), params={"model_id": model_id, "gallery_id": gallery_id}).to_arrow_table()
    if not found.num_rows:
        return None
    row = found.slice(0, 1)
    scores = row.column("impostor_scores").combine_chunks().flatten().to_numpy(zero_copy_only=False)
    fields = row.drop(["impostor_scores"]).to_pylist()[0]
    return Calibration(**fields, scores=scores.astype(np.float32, copy=False))


def possible_duplicates(conn: duckdb.DuckDBPyConnection, gallery_id: str) -> list[PossibleDuplicate]:
    """The gallery's newest calibration's closest subject pairs with their newest marks."""
    cursor = conn.execute(query("possible_duplicates"), {"gallery_id": gallery_id})
    return [PossibleDuplicate(**row) for row in dicts(cursor)]


def same_person_marks(conn: duckdb.DuckDBPyConnection, gallery_id: str) -> list[tuple[str, str]]:
    return conn.execute(query("same_person_marks"), {"gallery_id": gallery_id}).fetchall()


def subject_in_gallery(conn: duckdb.DuckDBPyConnection, gallery_id: str, subject_id: str) -> bool:
    return conn.execute(query("subject_in_gallery"), {"gallery_id": gallery_id, "subject_id": subject_id}).fetchone()[0]


def insert_pair_mark(conn: duckdb.DuckDBPyConnection, mark: dict) -> None:
    conn.execute(query("insert_pair_mark"), mark)


def insert_subject_attributes(conn: duckdb.DuckDBPyConnection, gallery_id: str, run_id: str,
                              attributes: dict[str, dict[str, str]]) -> int:
    """Store each subject's attribute values from one enrollment run; the rows written."""
    recorded = now()
    rows = [{"gallery_id": gallery_id, "subject_id": subject, "name": name, "value": value, "run_id": run_id,
             "recorded_at": recorded} for subject, values in sorted(attributes.items()) for name, value in sorted(values.items())]
    if rows:
        with registered(conn, "attribute_batch", pa.Table.from_pylist(rows)):
            conn.execute(query("insert_subject_attributes"))
    return len(rows)


def gallery_attributes(conn: duckdb.DuckDBPyConnection, gallery_id: str, name: str) -> dict[str, str]:
    """Subject id -> its newest value of attribute ``name`` in the gallery."""
    return dict(conn.execute(query("gallery_attributes"), {"gallery_id": gallery_id, "name": name}).fetchall())


def galleries(conn: duckdb.DuckDBPyConnection) -> list[str]:
    return [row[0] for row in conn.execute(query("galleries")).fetchall()]
