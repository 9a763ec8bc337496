"""Build a versioned ScaNN index of one gallery and switch searches to it atomically."""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import Field

from facelead.casework import searched_exactly
from facelead.policy import Action
from facelead.settings import current_settings
from flows.runtime import FaceleadDaskTaskRunner, acting_user, refusals_audited
from models.ann import Judged, Targets, weakest
from models.calibration import identity_codes
from tasks.calibration import calibrate_gallery, describe_calibration
from tasks.faces import face_models
from tasks.index import (
    build_record,
    build_rows,
    build_shard,
    candidate_floor,
    folder_hashes,
    index_params,
    partial_folder,
    plan_shards,
    publish_folder,
    write_rows,
)
from tasks.persist import load_gallery, record_build


@dataclass(frozen=True)
class BuildSummary:
    """A finished build and how its answers compared with exact search (the weakest shard's)."""

    build_id: str
    gallery_id: str
    vectors: int
    shards: int
    seconds: float
    params: dict
    candidate_floor: float
    judged: Judged
    exact_fallback: bool


@refusals_audited
@flow(name="build-index", task_runner=FaceleadDaskTaskRunner())
def build_index(
    gallery: Annotated[str, Field(min_length=1)] = "default",
    shards: Annotated[int | None, Field(ge=1)] = None,
    grant: str | None = None,
) -> BuildSummary | None:
    """Index every searchable face of ``gallery`` into a new build folder, then make it serve.
    A gallery smaller than FACELEAD_INDEX__EXACT_BELOW is searched exactly: nothing is built.

    Shards are built on Dask into a hidden folder that is renamed into place only when
    complete; the database switch to the new build is one transaction. A failed or
    interrupted build leaves the serving index as it was.

    Args:
        gallery: The gallery to index.
        shards: Index shards, searched in parallel on Dask; default FACELEAD_INDEX__SHARDS.
        grant: Issued by facelead for the person who starts the run (the Prefect UI behind
            facelead adds it); leave empty. A run made by the deployment's own schedule
            or trigger needs none.
    """
    started, settings, log = time.monotonic(), current_settings(), get_run_logger()
    actor = acting_user(settings, Action.BUILD, f"gallery:{gallery}", grant, gallery=gallery, shards=shards).user_id
    models = face_models(settings)
    snapshot_at = datetime.now(timezone.utc)
    faces = load_gallery(settings.database_path, gallery, models.recogniser.model_id, snapshot_at)
    face_ids, subject_count = faces.face_ids, len(set(faces.subject_ids))
    calibrated = None
    if subject_count > 1:  # a calibration scores pairs of faces of different subjects
        calibrated = calibrate_gallery(settings.database_path, gallery, models.recogniser.model_id, faces, actor,
                                       "index build")
        log.info("calibration %s: %s", calibrated.calibration.calibration_id, describe_calibration(calibrated))
    if searched_exactly(len(face_ids), settings.index.exact_below):
        log.info("gallery %s has %d faces, fewer than FACELEAD_INDEX__EXACT_BELOW (%d): it is searched exactly, "
                 "no index built", gallery, len(face_ids), settings.index.exact_below)
        return None
    # refused for one subject, so the gallery was calibrated above
    parts = plan_shards(gallery, models.recogniser.model_id, len(face_ids), subject_count,
                        shards or settings.index.shards)
    build_id = uuid.uuid4().hex
    params = [index_params(len(rows), settings.index) for rows in parts]
    partial = partial_folder(settings.index_dir, build_id)
    subjects = identity_codes(faces.subject_ids)
    floor = candidate_floor(calibrated.impostors, len(face_ids), settings.index)
    targets = Targets(settings.index.target_floor_recall, settings.index.target_rank1)
    write_rows(partial, faces, subjects)  # the workers read their rows from here
    futures = [build_shard.submit(rows, p, 50, partial / f"shard-{i:03d}", settings.models.threads, targets, floor.score)
               for i, (rows, p) in enumerate(zip(build_rows(partial, len(face_ids), len(parts)), params))]
    tuned = [future.result() for future in futures]
    params, judged = [p for p, _ in tuned], weakest([j for _, j in tuned])
    exact_fallback = not judged.meets(targets)
    log.info("candidate floor %.3f (%s); the index finds %.4f of the faces at or above it and keeps the first "
             "candidate of %.4f of mated probes (recall@50 over every neighbour %.3f)", floor.score,
             f"one chance candidate expected in {floor.gallery_size} faces, from {floor.pairs} cross-subject pairs"
             if floor.pairs else "set", judged.floor_recall, judged.rank1_agreement, judged.recall_at_k)
    if exact_fallback:
        log.warning("the index misses its targets (%.3f of %.3f above the floor, first candidate %.4f of %.4f) even "
                    "searching every leaf: searches of %s stay exact", judged.floor_recall, targets.floor_recall,
                    judged.rank1_agreement, targets.rank1_agreement, gallery)
    final = publish_folder(partial)
    seconds = time.monotonic() - started
    record_build(settings.database_path, build_record(
        build_id, gallery, models.recogniser, final.relative_to(settings.database_path.parent), len(face_ids),
        params, judged, floor.score, exact_fallback, folder_hashes(final), seconds, actor, snapshot_at),
        parts, face_ids)
    log.info("index %s of gallery %s: %d faces in %d shard(s), %.1f s", build_id, gallery, len(face_ids), len(parts), seconds)
    return BuildSummary(build_id, gallery, len(face_ids), len(parts), seconds, params[0].as_dict(), floor.score, judged,
                        exact_fallback)
