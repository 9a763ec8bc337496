"""An evaluation's steps: a labeled set's embeddings gathered, gated and scored, its probes
degraded, a gallery's group rates, and the stored result."""

from __future__ import annotations

import json
import uuid
from collections import Counter
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import numpy as np
import pyarrow as pa
from numpy.typing import NDArray
from PIL import Image
from prefect import task
from prefect.cache_policies import NONE

from expectations.quality import validate
from facelead.digest import sha256_hex
from facelead.documents.evaluation_report import ModelEvaluation
from facelead.intake.batches import BatchResult
from facelead.intake.inputs import HashedRef, ImageBatch, ImageRef, InputError, RefusedInput
from facelead.intake.labeled import LabeledSet
from facelead.metrics import (
    PairScores,
    degradation_plan,
    evaluate_embeddings,
    gallery_group_rates,
    mated_search_rates,
    quality_bar_report,
)
from facelead.refusal import Refusal
from facelead.settings import QualityBar
from facelead.steps import gallery
from models.calibration import Calibration, identity_codes, impostor_sample, score_at_chance, stored_scores
from models.degrade import SURVEILLANCE
from models.faces import FaceModels, load
from models.image import ImageDecodeError, decode_image
from models.quality import METRICS
from tasks.persist import DB_TASK
from warehouse.records import EvaluationRecord


@dataclass(frozen=True)
class Embedded:
    """One model's embeddings of a labeled set, in a stable order, each face's quality
    measurements, and what failed."""

    paths: list[str]
    sha256: list[str]
    identities: NDArray
    vectors: NDArray[np.float32]
    quality: list[dict]  # each face's FaceQuality row
    failed: list[tuple[str, str]]  # (reason, identity) of each image that could not be enrolled

    @property
    def failures(self) -> dict[str, int]:
        """Images that could not be enrolled, by reason."""
        return dict(Counter(reason for reason, _ in self.failed))

    @property
    def failed_identities(self) -> NDArray:
        return np.array([identity for _, identity in self.failed])

    def keep(self, kept: NDArray[np.bool_], reason: str) -> Embedded:
        """The faces where ``kept``; the others become failures to enroll for ``reason``."""
        rows = np.flatnonzero(kept).tolist()
        return Embedded([self.paths[r] for r in rows], [self.sha256[r] for r in rows], self.identities[kept],
                        self.vectors[kept], [self.quality[r] for r in rows],
                        [*self.failed, *((reason, str(who)) for who in self.identities[~kept])])


def gather(batches: list[BatchResult], unusable: list[RefusedInput]) -> Embedded:
    """Embedded faces of every batch sorted by path with their quality rows, and failures to
    enroll by reason."""
    enrolled = pa.concat_tables([b.enrolled for b in batches]) if batches else None
    rows = sorted(enrolled.select(["source_path", "sha256", "subject_id", "vector"]).to_pylist(),
                  key=lambda r: r["source_path"]) if enrolled is not None else []
    measured = {row["source_path"]: {m: row[m] for m in METRICS} for b in batches
                for row in b.quality.validations.select(["source_path", *METRICS]).to_pylist()}
    refused = [(r["reason"], r["subject_id"]) for b in batches for r in b.refused.select(["reason", "subject_id"]).to_pylist()]
    refused += [(u.reason, u.subject_id) for u in unusable]
    vectors = np.array([r["vector"] for r in rows], np.float32).reshape(len(rows), -1)
    return Embedded([r["source_path"] for r in rows], [r["sha256"] for r in rows],
                    np.array([r["subject_id"] for r in rows]), vectors, [measured[r["source_path"]] for r in rows],
                    [(reason, who or "") for reason, who in refused])


@dataclass(frozen=True)
class QualityGate:
    """Each embedded face's verdict under the chosen bar and its quality score (the margin
    under that bar; under the gallery bar when the chosen one is open)."""

    name: str
    bar: QualityBar
    passed: NDArray[np.bool_]
    margins: NDArray[np.float64]
    refusals: dict[str, int]  # failed check reason -> faces


@task(cache_policy=NONE)
def gate_embedded(embedded: Embedded, name: str, bar: QualityBar, gallery_bar: QualityBar) -> QualityGate:
    """Validate every embedded face's measurements with the chosen bar (Great Expectations,
    as enrollment does) and score its quality."""
    verdicts = validate(name, bar, embedded.quality)
    ranked = verdicts if name != "none" else validate("gallery", gallery_bar, embedded.quality)
    return QualityGate(name, bar, np.array([v.passed for v in verdicts], bool),
                       np.array([v.margin() for v in ranked], np.float64),
                       dict(Counter(c.reason for v in verdicts for c in v.failures)))


class EvaluationRefused(Refusal, ValueError):
    """The labeled set cannot be evaluated (fewer than two identities embedded)."""


@dataclass(frozen=True)
class Scored:
    """One recogniser's labeled set scored: the faces that passed the bar, the metrics (the
    quality bar's report among them) and every pair's score."""

    embedded: Embedded
    metrics: dict
    pairs: PairScores


@task(cache_policy=NONE)
def score_labeled_set(every: Embedded, gate: QualityGate, labeled: LabeledSet, model_id: str, group_columns: list[str],
                      bootstrap: int, candidates: int) -> Scored:
    """Verification, identification and group metrics of the faces that pass ``gate``, and
    what the bar does over every face; EvaluationRefused under two identities left."""
    embedded = every.keep(gate.passed, "quality")
    if len(set(embedded.identities.tolist())) < 2:
        raise EvaluationRefused("too_few_identities", f"{labeled.source}: fewer than two identities embedded with "
                                f"{model_id} and passing the {gate.name} quality bar")
    groups = {c: np.array([labeled.groups[p][c] for p in embedded.paths]) for c in group_columns}
    metrics, pairs = evaluate_embeddings(embedded.vectors, embedded.identities, groups, bootstrap, candidates,
                                         embedded.failed_identities)
    metrics["quality_bar"] = {"name": gate.name, "limits": gate.bar.model_dump(), "refusals": gate.refusals,
                              **quality_bar_report(every.vectors, every.identities, gate.passed, gate.margins,
                                                   candidates, every.failed_identities)}
    return Scored(embedded, metrics, pairs)


def degradation_probes(every: Embedded, probes: int) -> tuple[NDArray, NDArray, list[HashedRef]]:
    """The gallery rows and up to ``probes`` mated probe rows of ``every`` (``degradation_plan``),
    and the probes' images as refs to degrade."""
    gallery_rows, probe_rows = degradation_plan(every.identities, probes)
    return gallery_rows, probe_rows, [HashedRef(ImageRef(every.paths[r], str(every.identities[r]), "as taken"),
                                                every.sha256[r]) for r in probe_rows]


@task(cache_policy=NONE, retries=2, retry_delay_seconds=[2, 10])
def degrade_images(batch: ImageBatch, models: FaceModels, max_pixels: int, folder: Path) -> list[ImageRef]:
    """Each image under each SURVEILLANCE degradation, sized to its subject's face, written as
    ``folder/<degradation index>/<image sha256>.png`` (lossless: only the degradation shows);
    each ref keeps the image's identity. An image that no longer decodes is skipped."""
    detector = load(models)[0]
    refs = []
    for item in batch.items:
        try:
            image = decode_image(Path(item.ref.path).read_bytes(), max_pixels)
        except (OSError, ImageDecodeError):
            continue
        found = detector.detect(image)
        if not len(found):
            continue
        eyes = found.landmarks[found.subject(image.shape[1], image.shape[0])][:2]
        inter_eye = float(np.hypot(*(eyes[1] - eyes[0])))
        for number, degradation in enumerate(SURVEILLANCE):
            target = folder / str(number) / f"{item.sha256}.png"
            target.parent.mkdir(parents=True, exist_ok=True)
            Image.fromarray(degradation.apply(image, inter_eye)).save(target)
            refs.append(ImageRef(str(target), item.ref.subject_id, degradation.label))
    return refs


def degradation_report(clean: Embedded, gallery_rows: NDArray, probe_rows: NDArray, degraded: Embedded,
                       threshold: float, candidates: int) -> list[dict]:
    """Rank 1 and FNIR of the mated probes as taken and under each degradation, against the
    gallery rows of ``clean``; a probe whose degraded copy shows no face is a miss."""
    gallery, gallery_ids = clean.vectors[gallery_rows], clean.identities[gallery_rows]
    rows = [{"degradation": "none (as taken)", **mated_search_rates(
        gallery, gallery_ids, clean.vectors[probe_rows], clean.identities[probe_rows], 0, threshold, candidates)}]
    condition = np.array([int(Path(path).parent.name) for path in degraded.paths], dtype=int)
    for number, degradation in enumerate(SURVEILLANCE):
        mine = condition == number
        rows.append({"degradation": degradation.label, **mated_search_rates(
            gallery, gallery_ids, degraded.vectors[mine], degraded.identities[mine],
            len(probe_rows) - int(mine.sum()), threshold, candidates)})
    return rows


def dataset_hash(embedded: Embedded, groups: dict[str, dict[str, str]]) -> str:
    """SHA-256 of the sorted (image hash, identity, group values) rows that were scored."""
    lines = sorted("\t".join([sha, identity, json.dumps(groups.get(path, {}), sort_keys=True)])
                   for path, sha, identity in zip(embedded.paths, embedded.sha256, embedded.identities.tolist()))
    return sha256_hex("\n".join(lines))


GALLERY_OPERATING_FMR = 1e-3  # a gallery's own operating threshold when no labeled set sets one


@dataclass(frozen=True)
class GalleryGroups:
    """A gallery's error rates by subject group (the report's section), and the SHA-256 of
    the face ids they were measured on."""

    report: dict
    face_ids_sha256: str


@task(**DB_TASK)
def gallery_groups(db_path: Path, gallery_id: str, model_id: str, columns: list[str],
                   operating: tuple[str, float] | None) -> GalleryGroups:
    """The gallery's error rates by each subject attribute in ``columns`` (subjects without a
    value form the group "unknown"), at ``operating`` (label, threshold), else at the score
    its own cross-subject pairs reach at FMR 1e-3."""
    faces, values = gallery.faces_with_attributes(db_path, gallery_id, model_id, columns)
    if len(set(faces.subject_ids)) < 2:
        raise InputError(f"gallery {gallery_id!r} has {len(set(faces.subject_ids))} subject(s) for {model_id}: "
                         "group rates need faces of at least two")
    subjects = np.asarray(faces.subject_ids, dtype=object)
    if operating is None:
        impostors = impostor_sample(faces.vectors, identity_codes(faces.subject_ids), closest=0)
        operating = (f"gallery FMR {GALLERY_OPERATING_FMR:g}", score_at_chance(impostors.scores, GALLERY_OPERATING_FMR))
    label, threshold = operating
    return GalleryGroups({
        "gallery": gallery_id, "model_id": model_id, "faces": len(subjects), "subjects": len(set(faces.subject_ids)),
        "operating_point": label, "threshold": threshold,
        "columns": {column: gallery_group_rates(faces.vectors, subjects, np.array(
            [values[column].get(who, "unknown") for who in faces.subject_ids], dtype=object), threshold)
            for column in columns}}, sha256_hex("\n".join(sorted(faces.face_ids))))


def evaluation_record(evaluation_id: str, report_id: str, models: FaceModels, dataset: str, dataset_sha256: str,
                      images: int, failures_to_enroll: int, metrics: dict, folder: Path, actor: str) -> EvaluationRecord:
    """The warehouse's record of one evaluation, made now."""
    return EvaluationRecord(evaluation_id, report_id, models.recogniser.model_id, models.detector.model_id, dataset,
                            dataset_sha256, images, failures_to_enroll, json.dumps(metrics), str(folder), actor,
                            datetime.now(timezone.utc))


def labeled_set_calibration(calibration_id: str, model_id: str, evaluation_id: str, dataset: str, pairs: PairScores,
                            faces: int) -> Calibration:
    """The score calibration an evaluation draws from its labeled set's impostor pairs."""
    return Calibration(calibration_id, model_id, f"evaluation:{evaluation_id} ({dataset})", None, len(pairs.impostor),
                       faces, stored_scores(pairs.impostor), datetime.now(timezone.utc))


def labeled_set_evaluation(report_id: str, models: FaceModels, labeled: LabeledSet, repeats: int,
                           scored: Scored, folder: Path, actor: str
                           ) -> tuple[ModelEvaluation, EvaluationRecord, Calibration]:
    """One recogniser's result on a labeled set, for the report and as the warehouse stores it
    (the evaluation and the calibration its impostor pairs give)."""
    evaluation_id, calibration_id, embedded = uuid.uuid4().hex, uuid.uuid4().hex, scored.embedded
    result = ModelEvaluation(evaluation_id, models.recogniser.model_id,
                             len(labeled.refs) + len(labeled.problems) - repeats, embedded.failures, scored.metrics,
                             scored.pairs, calibration_id)
    record = evaluation_record(evaluation_id, report_id, models, labeled.source, dataset_hash(embedded, labeled.groups),
                               result.images, sum(embedded.failures.values()), scored.metrics, folder, actor)
    return result, record, labeled_set_calibration(calibration_id, result.model_id, evaluation_id, labeled.source,
                                                   scored.pairs, len(embedded.paths))


def gallery_evaluation_record(report_id: str, models: FaceModels, gallery: str, by_group: GalleryGroups,
                              folder: Path, actor: str) -> EvaluationRecord:
    """The warehouse's record of a gallery's group rates."""
    return evaluation_record(uuid.uuid4().hex, report_id, models, f"gallery:{gallery}", by_group.face_ids_sha256,
                             by_group.report["faces"], 0, {"gallery_groups": by_group.report}, folder, actor)


