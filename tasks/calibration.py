"""A gallery's own score calibration, drawn from its faces of different subjects."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

from prefect import task
from prefect.artifacts import create_markdown_artifact

from facelead.steps import gallery
from models.calibration import (
    Calibration,
    ImpostorSample,
    PossibleDuplicate,
    identity_codes,
    impostor_sample,
    stored_scores,
)
from models.index import GalleryVectors
from tasks.persist import DB_TASK


@dataclass(frozen=True)
class GalleryCalibration:
    """A stored gallery calibration, the impostor pairs it was drawn from, and its closest
    subject pairs (possible duplicates)."""

    calibration: Calibration
    impostors: ImpostorSample
    closest: list[PossibleDuplicate]


def closest_subjects(impostors: ImpostorSample, faces: GalleryVectors) -> list[PossibleDuplicate]:
    """The sample's closest pairs named by subject and face, the lesser subject id first."""
    found = []
    for rank, pair in enumerate(impostors.closest, start=1):
        a, b = sorted((pair.row_a, pair.row_b), key=lambda row: (faces.subject_ids[row], faces.face_ids[row]))
        found.append(PossibleDuplicate(rank, faces.subject_ids[a], faces.face_ids[a], faces.subject_ids[b],
                                       faces.face_ids[b], pair.score))
    return found


def describe_source(gallery_id: str, faces: int, sampled: int) -> str:
    drawn = f"every face of {faces:,}" if sampled == faces else f"{sampled:,} random faces of {faces:,}"
    return f"gallery:{gallery_id} (cross-subject pairs of {drawn})"


@task(**DB_TASK)
def calibrate_gallery(db_path: Path, gallery_id: str, model_id: str, faces: GalleryVectors, actor: str,
                      reason: str) -> GalleryCalibration:
    """Score the cross-subject pairs of the gallery's faces (subjects an operator marked as
    the same person count as one), store them as the gallery's calibration for ``model_id``
    with its closest subject pairs, and audit it as ``calibration.gallery``."""
    same_person = gallery.same_person_marks(db_path, gallery_id)
    impostors = impostor_sample(faces.vectors, identity_codes(faces.subject_ids, same_person))
    calibration = Calibration(uuid.uuid4().hex, model_id, describe_source(gallery_id, len(faces.face_ids), impostors.faces),
                              gallery_id, impostors.pairs, impostors.faces, stored_scores(impostors.scores),
                              datetime.now(timezone.utc))
    closest = closest_subjects(impostors, faces)
    gallery.record_calibration(db_path, calibration, closest, actor, {
        "reason": reason, "faces": impostors.faces, "pairs": impostors.pairs, "same_person_marks": len(same_person),
        "highest_impostor": float(impostors.scores[-1]) if impostors.pairs else None})
    create_markdown_artifact(duplicates_markdown(gallery_id, closest, named=False), key="possible-duplicates",
                             description=describe_source(gallery_id, len(faces.face_ids), impostors.faces))
    return GalleryCalibration(calibration, impostors, closest)


def describe_calibration(calibrated: GalleryCalibration) -> str:
    """One line, naming no subject (it goes to Prefect's logs): what the calibration was
    drawn from and how far down it reads chances."""
    c, closest = calibrated.calibration, calibrated.closest
    top = f"; the closest pair of different subjects scores {closest[0].score:.3f}" if closest else ""
    return (f"{c.source}: {c.pairs:,} impostor pairs, chances read down to {c.smallest_chance:.1g} "
            f"(below that, a bound){top}")


def duplicates_markdown(gallery_id: str, closest: list[PossibleDuplicate], named: bool) -> str:
    """The possible duplicate subjects as a Markdown table for operators, with their marks;
    ``named`` False leaves the subject ids out (for Prefect's artifacts, which must name no one)."""
    out = [f"# Possible duplicate subjects in `{gallery_id}`\n",
           "The highest-scoring pairs of faces of different subjects in the gallery's newest calibration. "
           "A pair far above the rest is often one person under two ids: it inflates the chance "
           "estimates on every sheet until marked. "
           + ("Mark it with `facelead index duplicates --gallery GALLERY --same A B` (or `--different A B`).\n" if named
              else f"`facelead index duplicates --gallery {gallery_id}` lists the subject ids and marks them.\n"),
           "| rank | subject A | subject B | score | mark |" if named else "| rank | score | mark |",
           "|---|---|---|---|---|" if named else "|---|---|---|"]
    for d in closest:
        mark = ("not marked" if d.same_person is None
                else f"{'same person' if d.same_person else 'different people'} ({d.marked_by})")
        out.append(f"| {d.rank} | {d.subject_a} | {d.subject_b} | {d.score:.3f} | {mark} |" if named
                   else f"| {d.rank} | {d.score:.3f} | {mark} |")
    return "\n".join(out)
