"""Enroll a gallery from a CSV manifest or a ``<subject>/<image>`` folder."""

from __future__ import annotations

import time
from collections import Counter
from dataclasses import asdict, dataclass, field
from itertools import chain
from pathlib import Path
from typing import Annotated

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact, create_progress_artifact, update_progress_artifact
from prefect.events import emit_event
from prefect.futures import as_completed
from prefect.runtime import flow_run
from pydantic import Field

from facelead import casework
from facelead.intake.batches import BatchContext, BatchResult, batch_result
from facelead.intake.inputs import ImageBatch, hash_inputs, manifest_attributes, overlaps, split_new
from facelead.policy import Action
from facelead.refusal import refuse
from facelead.settings import QualityBar, current_settings
from flows.runtime import FaceleadDaskTaskRunner, acting_user, refusals_audited
from tasks.faces import embed_batch, face_models
from tasks.inputs import collect_inputs
from tasks.persist import finish_enrollment, persist_batch, record_subject_attributes, start_enrollment


@dataclass
class EnrollmentSummary:
    """What one enrollment run did; ``refused_by_reason`` counts refusals per reason code."""

    run_id: str
    gallery_id: str
    images_seen: int = 0
    enrolled: int = 0
    duplicates: int = 0
    refused: int = 0
    refused_by_reason: dict[str, int] = field(default_factory=dict)
    quality_failures: dict[str, int] = field(default_factory=dict)
    seconds: float = 0.0

    def add(self, batch: BatchResult) -> None:
        self.enrolled += batch.enrolled.num_rows
        self.refused += batch.refused.num_rows
        for reason, _ in batch.refusal_lines():
            self.refused_by_reason[reason] = self.refused_by_reason.get(reason, 0) + 1
        for reason in batch.quality.failed_checks():
            self.quality_failures[reason] = self.quality_failures.get(reason, 0) + 1

    def markdown(self) -> str:
        reasons = "".join(f"| refused: {k} | {v} |\n" for k, v in sorted(self.refused_by_reason.items()))
        checks = "".join(f"| {k} | {v} |\n" for k, v in sorted(self.quality_failures.items(), key=lambda kv: -kv[1]))
        rate = self.enrolled / self.seconds if self.seconds else 0.0
        return (f"# Enrollment of gallery `{self.gallery_id}`\n\n| | count |\n|---|---|\n"
                f"| images seen | {self.images_seen} |\n| enrolled | {self.enrolled} |\n"
                f"| skipped as already known | {self.duplicates} |\n| refused | {self.refused} |\n{reasons}\n"
                + (f"## Gallery quality checks failed\n\n| check | faces |\n|---|---|\n{checks}\n" if checks else "")
                + f"{self.seconds:.1f} s, {rate:.1f} faces/s")


def _chunks(items: list, size: int) -> list[list]:
    return [items[i:i + size] for i in range(0, len(items), size)]


@refusals_audited
@flow(name="enroll-gallery", task_runner=FaceleadDaskTaskRunner())
def enroll_gallery(
    source: str | None = None,
    gallery: Annotated[str, Field(min_length=1)] = "default",
    source_name: str | None = None,
    quality_bar: QualityBar | None = None,
    grant: str | None = None,
) -> EnrollmentSummary:
    """Enroll every new image of ``source`` (CSV manifest or folder) into ``gallery``.

    Idempotent by content hash; unusable images and faces below the gallery quality bar
    are recorded with their reasons and the rest go on. Dask workers compute; only this
    process writes the database.

    Args:
        source: CSV manifest (image_path, subject_id, source, acquired_at) or
            <subject>/<image> folder; default the drop folder FACELEAD_ENROLL_SOURCE.
        gallery: The gallery to enroll into.
        source_name: Where the photos come from, when the manifest does not say.
        quality_bar: This run's gallery quality bar (a legacy gallery, say); default the
            configured one. Its limits are audited; every verdict carries its suite version.
        grant: Issued by facelead for the person who starts the run (the Prefect UI behind
            facelead adds it); leave empty. A run made by the deployment's own schedule
            or trigger needs none.
    """
    started = time.monotonic()
    settings, log = current_settings(), get_run_logger()
    actor = acting_user(settings, Action.ENROLL, f"gallery:{gallery}", grant, source=source, gallery=gallery,
                        source_name=source_name, quality_bar=quality_bar).user_id
    source = source or settings.enroll_source
    refuse(casework.enrollment_source_refusal(source, bool(source) and overlaps(Path(source),
                                                                               settings.service_folders)))
    run_id = str(flow_run.id or f"local-{time.time_ns()}")
    models = face_models(settings)
    ctx = BatchContext(gallery, run_id, models.recogniser.model_id, models.detector.model_id)
    refs, problems = collect_inputs(source, source_name, tuple(settings.image_roots), settings.service_folders)
    bar = quality_bar or settings.quality.gallery
    seen = start_enrollment(settings.database_path, run_id, gallery, models, source, actor, bar)
    attributes = manifest_attributes(source, settings.subject_attributes)
    if attributes:
        record_subject_attributes(settings.database_path, gallery, run_id, attributes, actor)
    summary = EnrollmentSummary(run_id, gallery, images_seen=len(refs) + len(problems))
    futures, unusable = [], list(problems)
    for chunk in _chunks(refs, settings.dask.batch_size(len(refs))):  # hashing overlaps the workers' work
        hashed, unreadable = hash_inputs(chunk)
        new, skipped = split_new(hashed, seen)
        seen.update(item.sha256 for item in new)
        summary.duplicates += skipped
        unusable += unreadable
        if new:
            futures.append(embed_batch.submit(ImageBatch(new), models, settings.max_image_pixels, ctx, bar))
    log.info("%d images: %d batches submitted to the Dask cluster %s, %d already known, %d unusable", len(refs),
             len(futures), settings.dask.address or "started for this run", summary.duplicates, len(unusable))
    progress = create_progress_artifact(0.0 if futures else 100.0, key="enrollment-progress",
                                        description=f"gallery {gallery}: share of new images' batches done")
    results = (future.result() for future in as_completed(futures))
    for done, batch in enumerate(chain([batch_result(unusable, [], ctx)], results)):
        if not (batch.enrolled.num_rows or batch.refused.num_rows):
            continue
        persist_batch(settings.database_path, ctx, actor, batch)
        summary.add(batch)
        if batch.refused.num_rows:  # file names often name the subject: they stay in facelead's refusals table
            reasons = Counter(reason for reason, _ in batch.refusal_lines())
            log.warning("refused %d image(s): %s; each file and why is in the refusals table (run %s)",
                        batch.refused.num_rows, ", ".join(f"{r} {n}" for r, n in sorted(reasons.items())), ctx.run_id)
        log.info("batch %d/%d: %d enrolled, %d refused so far", done, len(futures), summary.enrolled, summary.refused)
        if done:
            update_progress_artifact(progress, 100.0 * done / len(futures),
                                     description=f"gallery {gallery}: {summary.enrolled} enrolled, {summary.refused} refused")
    summary.seconds = time.monotonic() - started
    finish_enrollment(settings.database_path, run_id, gallery, actor, {
        k: v for k, v in asdict(summary).items() if k not in ("run_id", "gallery_id")})
    create_markdown_artifact(summary.markdown(), key="enrollment-summary", description=f"gallery {gallery}")
    if summary.enrolled:  # the build-index deployment's trigger
        emit_event("facelead.enrollment.completed", payload={"run_id": run_id, "enrolled": summary.enrolled},
                   resource={"prefect.resource.id": f"facelead.gallery.{gallery}", "facelead.gallery": gallery})
    return summary
