"""Calibrate a gallery's scores on demand (every index build does it too)."""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Annotated

from prefect import flow, get_run_logger
from pydantic import Field

from facelead.policy import Action
from facelead.refusal import Refusal
from facelead.settings import current_settings
from flows.runtime import acting_user, refusals_audited
from tasks.calibration import GalleryCalibration, calibrate_gallery, describe_calibration
from tasks.faces import face_models
from tasks.persist import load_gallery


class CalibrationRefused(Refusal, ValueError):
    """The gallery has no two faces of different subjects to score."""


@refusals_audited
@flow(name="calibrate-gallery")
def calibrate(gallery: Annotated[str, Field(min_length=1)] = "default", grant: str | None = None) -> GalleryCalibration:
    """Score the cross-subject pairs of ``gallery``'s faces as its calibration for the
    configured recogniser: every candidate sheet of the gallery reads its chance candidates
    from the newest one. Lists the closest subject pairs (possible duplicates) as an artifact.

    Args:
        gallery: The gallery to calibrate.
        grant: Issued by facelead for the person who starts the run (the Prefect UI behind
            facelead adds it); leave empty. A run made by the deployment's own schedule
            or trigger needs none.
    """
    settings = current_settings()
    actor = acting_user(settings, Action.CALIBRATE, f"gallery:{gallery}", grant, gallery=gallery).user_id
    model_id = face_models(settings).recogniser.model_id
    faces = load_gallery(settings.database_path, gallery, model_id, datetime.now(timezone.utc))
    if len(set(faces.subject_ids)) < 2:
        raise CalibrationRefused("too_few_subjects", f"gallery {gallery!r} has {len(set(faces.subject_ids))} subject(s) "
                                 f"for {model_id}: a calibration needs faces of at least two")
    calibrated = calibrate_gallery(settings.database_path, gallery, model_id, faces, actor, "on demand")
    get_run_logger().info("calibration %s: %s", calibrated.calibration.calibration_id, describe_calibration(calibrated))
    return calibrated
