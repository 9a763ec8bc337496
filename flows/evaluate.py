"""Evaluate recognisers on a labeled set: accuracy, calibration, demographic differentials."""

from __future__ import annotations

import shutil
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated, Literal

from prefect import flow, get_run_logger
from prefect.artifacts import create_markdown_artifact
from pydantic import Field

from facelead.documents.evaluation_report import ModelEvaluation, write_report
from facelead.intake.batches import BatchContext
from facelead.intake.inputs import ImageBatch, hash_inputs, split_new
from facelead.intake.labeled import read_labeled_set
from facelead.metrics import operating_threshold
from facelead.policy import Action
from facelead.settings import OPEN_BAR, QualityBar, Settings, current_settings
from flows.runtime import FaceleadDaskTaskRunner, acting_user, refusals_audited
from models.degrade import SURVEILLANCE
from models.faces import FaceModels
from tasks.evaluation import (
    Embedded,
    EvaluationRefused,
    degradation_probes,
    degradation_report,
    degrade_images,
    gallery_evaluation_record,
    gallery_groups,
    gate_embedded,
    gather,
    labeled_set_evaluation,
    score_labeled_set,
)
from tasks.faces import embed_batch, face_models
from tasks.persist import record_evaluation

OPEN = QualityBar(**OPEN_BAR)  # every face embedded; the chosen bar is applied after, to report both


@dataclass(frozen=True)
class EvaluationOutcome:
    report_id: str
    summary: Path
    results: list[ModelEvaluation]
    gallery_groups: dict | None = None


def probe_degradation(every: Embedded, models: FaceModels, settings: Settings, ctx: BatchContext, probes: int,
                      threshold: float, candidates: int, folder: Path) -> list[dict]:
    """Degrade up to ``probes`` mated probes each way a surveillance frame is poor, embed the
    copies as every image is (on Dask, no bar) and report what each costs; the copies are
    deleted afterwards."""
    gallery_rows, probe_rows, items = degradation_probes(every, probes)
    size = settings.dask.batch_size(len(items) * len(SURVEILLANCE))
    try:
        futures = [degrade_images.submit(ImageBatch(items[i:i + size]), models, settings.max_image_pixels, folder)
                   for i in range(0, len(items), size)]
        hashed, unreadable = hash_inputs([ref for future in futures for ref in future.result()])
        futures = [embed_batch.submit(ImageBatch(hashed[i:i + size]), models, settings.max_image_pixels, ctx, OPEN)
                   for i in range(0, len(hashed), size)]
        degraded = gather([future.result() for future in futures], unreadable)
    finally:
        shutil.rmtree(folder, ignore_errors=True)
    return degradation_report(every, gallery_rows, probe_rows, degraded, threshold, candidates)


@refusals_audited
@flow(name="evaluate", task_runner=FaceleadDaskTaskRunner())
def evaluate(
    source: Annotated[str | None, Field(min_length=1)] = None,
    gallery: Annotated[str | None, Field(min_length=1)] = None,
    recognisers: list[str] | None = None,
    group_columns: list[str] | None = None,
    bootstrap: Annotated[int, Field(ge=0, le=5000)] = 200,
    candidates: Annotated[int, Field(ge=1, le=50)] = 20,
    quality_bar: Literal["gallery", "probe", "none"] = "gallery",
    bar_limits: dict[str, float] | None = None,
    degraded_probes: Annotated[int, Field(ge=0, le=5000)] = 200,
    grant: str | None = None,
) -> EvaluationOutcome:
    """Detect, quality-check and embed a labeled set on Dask, then report verification,
    identification, failures to enroll, group differentials, the quality bar's value and
    what poor frames cost for each recogniser; store each as an evaluation with a score
    calibration. With a gallery, also report that gallery's error rates by subject group
    from its own faces. Write the report folder (summary.md, metrics.json, pair-scores.csv,
    scores/DET/error-versus-discard/CMC plots) and attach the summary.

    Args:
        source: A CSV (path, identity and any group columns; relative paths from its
            folder) or an <identity>/<image> folder; may be left out with a gallery.
        gallery: A gallery whose error rates by the group columns (subject attributes its
            enrollment manifests gave) are reported from its own faces.
        recognisers: Recogniser manifests (names or .toml paths) to compare on the same
            images; default the configured one.
        group_columns: Columns that label demographic or other groups (sex, age band): of
            the labeled set's CSV, and subject attributes of the gallery.
        bootstrap: Resamples of identities for the 95% intervals; 0 for none.
        candidates: Candidate list length for rank-k and FNIR (a mate beyond it is missed).
        quality_bar: The bar images must pass to count: the gallery's, the probe's, or none;
            the report also gives the results with no bar and the error-versus-discard curve.
        bar_limits: Limits changed from that bar (a custom bar), e.g. {"min_inter_eye_px": 30}.
        degraded_probes: Mated probes degraded as surveillance frames are (20-40 px between
            the eyes, blurred, JPEG quality 30, dark) to report what each costs; 0 for none.
        grant: Issued by facelead for the person who starts the run (the Prefect UI behind
            facelead adds it); leave empty. A run made by the deployment's own schedule
            or trigger needs none.
    """
    settings, log = current_settings(), get_run_logger()
    target = f"dataset:{source}" if source else f"gallery:{gallery}"
    actor = acting_user(settings, Action.EVALUATE, target, grant, source=source, gallery=gallery,
                        recognisers=recognisers, group_columns=group_columns, bootstrap=bootstrap,
                        candidates=candidates, quality_bar=quality_bar, bar_limits=bar_limits,
                        degraded_probes=degraded_probes).user_id
    if not source and not gallery:
        raise EvaluationRefused("nothing_to_evaluate", "give a labeled set (source), a gallery, or both")
    bar = settings.quality.named(quality_bar, bar_limits)
    labeled = read_labeled_set(Path(source), group_columns or [], tuple(settings.image_roots)) if source else None
    hashed, unreadable = hash_inputs(labeled.refs) if labeled else ([], [])
    unique, repeats = split_new(hashed, set())
    if repeats:
        log.info("%d images repeat another's bytes and are scored once", repeats)
    report_id = uuid.uuid4().hex[:12]
    folder = settings.data_dir.absolute() / "reports" / f"evaluation-{report_id}"
    size = settings.dask.batch_size(len(unique))
    results, records = [], []
    for manifest in (recognisers or [settings.models.recogniser_manifest]) if labeled else []:
        models = face_models(settings, manifest)
        model_id = models.recogniser.model_id
        ctx = BatchContext(f"evaluation:{report_id}", report_id, model_id, models.detector.model_id)
        futures = [embed_batch.submit(ImageBatch(unique[i:i + size]), models, settings.max_image_pixels, ctx, OPEN)
                   for i in range(0, len(unique), size)]
        every = gather([f.result() for f in futures], [*labeled.problems, *unreadable])
        gate = gate_embedded(every, quality_bar, bar, settings.quality.gallery)
        scored = score_labeled_set(every, gate, labeled, model_id, group_columns or [], bootstrap, candidates)
        if degraded_probes:
            scored.metrics["degradation"] = probe_degradation(
                every, models, settings, ctx, degraded_probes, scored.metrics["quality_bar"]["threshold"], candidates,
                settings.data_dir.absolute() / "work" / f"degraded-{report_id}")
        result, record, calibration = labeled_set_evaluation(report_id, models, labeled, repeats, scored, folder,
                                                             actor)
        results.append(result)
        records.append((record, calibration))
        log.info("%s: EER %.4f on %d images, rank 1 %.4f", model_id, result.metrics["verification"]["eer"],
                 result.images, result.metrics["identification"]["cmc"][0])
    by_group = None
    if gallery:
        models = face_models(settings)
        own = [r for r in results if r.model_id == models.recogniser.model_id]
        groups = gallery_groups(settings.database_path, gallery, models.recogniser.model_id, group_columns or [],
                                operating_threshold(own[0].metrics["verification"]) if own else None)
        records.append((gallery_evaluation_record(report_id, models, gallery, groups, folder, actor), None))
        by_group = groups.report
    summary = write_report(folder, source or f"gallery:{gallery}", results, by_group)
    for record, calibration in records:
        record_evaluation(settings.database_path, record, calibration)
    create_markdown_artifact(summary.read_text(), key="evaluation-summary", description=str(folder))
    return EvaluationOutcome(report_id, summary, results, by_group)
