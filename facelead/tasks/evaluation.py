"""Evaluation input (a labeled set), its embeddings, the stored result and the report."""

from __future__ import annotations

import csv
import json
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

from facelead.digest import sha256_hex
from facelead.expectations.quality import validate
from facelead.intake.batches import BatchResult
from facelead.intake.inputs import (IMAGE_SUFFIXES, ImageBatch, ImageRef, InputError, RefusedInput, csv_rows,
                                    image_in_roots, scan_folder)
from facelead.metrics import PairScores, error_rates, gallery_group_rates, mated_search_rates
from facelead.models.calibration import Calibration, identity_codes, impostor_sample, score_at_chance, stored_scores
from facelead.models.degrade import SURVEILLANCE
from facelead.models.faces import FaceModels, load
from facelead.models.image import ImageDecodeError, decode_image
from facelead.models.quality import METRICS
from facelead.settings import QualityBar
from facelead.tasks.persist import DB_TASK
from facelead.warehouse import db
from facelead.warehouse.records import EvaluationRecord

MAX_IMAGES = 20_000  # every pair is scored: 20,000 images are 200 million pairs


@dataclass(frozen=True)
class LabeledSet:
    """Images with their identity, and per image the value of each group column."""

    refs: list[ImageRef]
    groups: dict[str, dict[str, str]]  # image path -> {group column: value}
    problems: list[RefusedInput]


def read_labeled_set(source: Path, group_columns: list[str], roots: tuple[Path, ...]) -> LabeledSet:
    """A CSV (path or image_path; identity or subject_id; the group columns) or an
    ``<identity>/<image>`` folder. Relative paths are read from the CSV's folder; images
    outside it and ``roots`` are refused, as in enrollment."""
    if source.is_dir():
        if group_columns:
            raise InputError(f"{source}: group columns need a CSV that has them")
        refs, problems = scan_folder(source, source.name)
        return LabeledSet(refs, {}, problems)
    columns, rows = csv_rows(source)
    image = next((c for c in ("path", "image_path") if c in columns), None)
    identity = next((c for c in ("identity", "subject_id") if c in columns), None)
    missing = [c for c in group_columns if c not in columns]
    if image is None or identity is None or missing:
        raise InputError(f"{source}: needs columns path and identity"
                         + (f" and the group column(s) {', '.join(missing)}" if missing else "")
                         + f"; it has {', '.join(columns)}")
    refs, groups, problems = [], {}, []
    for line, row in rows:
        path, who = row.get(image, "").strip(), row.get(identity, "").strip()
        if not path or not who or Path(path).suffix.lower() not in IMAGE_SUFFIXES:
            problems.append(RefusedInput(path or f"{source} line {line}", who or None, "", "bad_manifest_row",
                                    f"{source} line {line}: needs an image path and an identity"))
            continue
        target = image_in_roots(source, path, who, f"{source} line {line}", roots)
        if isinstance(target, RefusedInput):
            problems.append(target)
            continue
        refs.append(ImageRef(str(target), who, source.stem))
        groups[str(target)] = {c: row.get(c, "").strip() or "unknown" for c in group_columns}
    if len(refs) > MAX_IMAGES:
        raise InputError(f"{source}: {len(refs)} images; evaluation scores every pair, at most {MAX_IMAGES} images")
    return LabeledSet(refs, groups, problems)


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


@task(**DB_TASK)
def gallery_groups(db_path: Path, gallery_id: str, model_id: str, columns: list[str],
                   operating: tuple[str, float] | None) -> dict:
    """The gallery's error rates by each subject attribute in ``columns`` (subjects without a
    value form the group "unknown"), at ``operating`` (label, threshold), else at the score
    its own cross-subject pairs reach at FMR 1e-3."""
    with db.open_db(db_path, read_only=True) as conn:
        faces = db.gallery_vectors(conn, gallery_id, model_id, db.now())
        values = {column: db.gallery_attributes(conn, gallery_id, column) for column in columns}
    if len(set(faces.subject_ids)) < 2:
        raise InputError(f"gallery {gallery_id!r} has {len(set(faces.subject_ids))} subject(s) for {model_id}: "
                         "group rates need faces of at least two")
    subjects = np.asarray(faces.subject_ids, dtype=object)
    if operating is None:
        impostors = impostor_sample(faces.vectors, identity_codes(faces.subject_ids), closest=0)
        operating = (f"gallery FMR {GALLERY_OPERATING_FMR:g}", score_at_chance(impostors.scores, GALLERY_OPERATING_FMR))
    label, threshold = operating
    return {"gallery": gallery_id, "model_id": model_id, "faces": len(subjects), "subjects": len(set(faces.subject_ids)),
            "face_ids_sha256": sha256_hex("\n".join(sorted(faces.face_ids))),
            "operating_point": label, "threshold": threshold,
            "columns": {column: gallery_group_rates(faces.vectors, subjects, np.array(
                [values[column].get(who, "unknown") for who in faces.subject_ids], dtype=object), threshold)
                for column in columns}}


@task(**DB_TASK)
def record_evaluation(db_path: Path, record: EvaluationRecord, calibration: Calibration | None) -> None:
    """Store an evaluation and its calibration (a labeled set's; a gallery's group report has
    none), audited (metrics summarised, never the photos)."""
    with db.open_db(db_path) as conn, db.transaction(conn):
        db.insert_evaluation(conn, record, calibration)
        db.append_audit(conn, record.actor, "evaluation.run", f"model:{record.model_id}", {
            "evaluation_id": record.evaluation_id, "dataset": record.dataset,
            "dataset_sha256": record.dataset_sha256, "images": record.images,
            "calibration_id": calibration and calibration.calibration_id, "report_dir": record.report_dir})


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


@dataclass(frozen=True)
class ModelEvaluation:
    """One recogniser's results on the labeled set."""

    evaluation_id: str
    model_id: str
    images: int
    failures: dict[str, int]
    metrics: dict
    pairs: PairScores
    calibration_id: str


def _rate(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.4f}"


def _interval(ci: list[float] | None) -> str:
    return "" if ci is None else f" (95% CI {ci[0]:.4f}-{ci[1]:.4f})"


def _bar_label(report: dict) -> str:
    changed = {k: v for k, v in report["limits"].items() if v is not None}
    return f"`{report['name']}`" + (f" (limits: {', '.join(f'{k} {v:g}' for k, v in sorted(changed.items()))})"
                                    if report["name"] != "none" else "")


def _quality_bar_lines(report: dict) -> list[str]:
    """The quality bar's section: with and without it, and the error-versus-discard curve."""
    bar, ungated = report["bar"], report["ungated"]
    v, i = ungated["verification"], ungated["identification"]
    tar = v["tar_at_far"].get("0.001")
    refused = "; ".join(f"{reason} {n}" for reason, n in sorted(report["refusals"].items(), key=lambda kv: -kv[1]))
    fnmr = "n/a" if bar["fnmr"] is None else f"{bar['fnmr']:.4f}"
    return [
        "", f"### Quality bar {_bar_label(report)}\n",
        f"{bar['passed']} of {bar['faces']} embedded faces pass it" + (f" (failed checks: {refused})" if refused else "")
        + "; the figures above count only those (the others as failures to enroll).",
        "",
        f"**Without a bar**, every face found: EER {v['eer']:.4f}, TAR at FAR 1e-3 {_rate(tar and tar['tar'])}, "
        f"rank 1 {i['cmc'][0]:.4f} ({i['mated_searches']} mated searches); {v['genuine_pairs']} genuine and "
        f"{v['impostor_pairs']} impostor pairs.",
        "",
        f"**Error versus discard** (ISO/IEC 29794-1): FNMR at the ungated {report['operating_point']} threshold "
        f"({report['threshold']:.3f}) over the genuine pairs left when the lowest-quality pairs are discarded "
        "(a pair's quality: the lower of its two faces' margins under the bar; `edc.png`). The bar itself discards "
        f"{bar['genuine_pairs_discarded']:.1%} of genuine pairs and leaves FNMR {fnmr} "
        f"(no bar: {_rate(bar['fnmr_ungated'])}).",
        "", "| discarded | genuine pairs left | FNMR |", "|---|---|---|",
        *(f"| {p['discarded']:.0%} | {p['genuine_pairs']} | {_rate(p['fnmr'])} |" for p in report["edc"]),
    ]


def _degradation_lines(rows: list[dict], bar_report: dict) -> list[str]:
    """What a poor frame costs: mated searches as taken and under each degradation."""
    return [
        "", "### What a poor frame costs\n",
        f"{rows[0]['searches']} mated probes searched against one photo per identity, as taken and degraded the way "
        f"surveillance frames are (no quality bar). A search misses (FNIR) when its mate scores below the ungated "
        f"{bar_report['operating_point']} threshold ({bar_report['threshold']:.3f}), falls beyond the candidate list, "
        "or no face is found in the frame.",
        "", "| probe | searches | no face found | rank 1 | FNIR |", "|---|---|---|---|---|",
        *(f"| {r['degradation']} | {r['searches']} | {r['no_face']} | {_rate(r['rank1'])} | {_rate(r['fnir'])} |"
          for r in rows),
    ]


def markdown(dataset: str, results: list[ModelEvaluation], by_group: dict | None = None) -> str:
    """The report's summary: per model verification, identification, failures and groups;
    then the gallery's own rates by group, if asked for."""
    out = [f"# Evaluation of `{dataset}`\n"]
    if len(results) > 1:
        out += ["| model | EER | TAR @ FAR 1e-2 | rank 1 | failures to enroll |", "|---|---|---|---|---|"]
        for r in results:
            tar = r.metrics["verification"]["tar_at_far"]["0.01"]
            out.append(f"| {r.model_id} | {r.metrics['verification']['eer']:.4f} | {_rate(tar and tar['tar'])} "
                       f"| {r.metrics['identification']['cmc'][0]:.4f} | {sum(r.failures.values())} |")
        out.append("")
    for r in results:
        v, i, ci = r.metrics["verification"], r.metrics["identification"], r.metrics["intervals"]
        out += [f"## {r.model_id}\n", f"Evaluation `{r.evaluation_id}`; calibration `{r.calibration_id}`.\n",
                f"- images: {r.images}; embedded: {r.images - sum(r.failures.values())}; failures to enroll: "
                f"{sum(r.failures.values())}" + "".join(f"; {k} {n}" for k, n in sorted(r.failures.items())),
                f"- pairs: {v['genuine_pairs']} genuine (mean score {v['genuine_mean']:.3f}), "
                f"{v['impostor_pairs']} impostor (mean {v['impostor_mean']:.3f})",
                f"- EER {v['eer']:.4f}{_interval(ci['eer'])} at score {v['eer_threshold']:.3f}", ""]
        out += ["| FAR | TAR | threshold |", "|---|---|---|"]
        for far, found in v["tar_at_far"].items():
            needs = int(10 / float(far))
            out.append(f"| {far} | {found['tar']:.4f}{_interval(ci[f'tar@{far}'])} | {found['threshold']:.3f} |" if found
                       else f"| {far} | not reportable: needs {needs:,} impostor pairs, has {v['impostor_pairs']:,} | |")
        ranks = ", ".join(f"rank {k}: {i['cmc'][k - 1]:.4f}" for k in (1, 5, 10, 20) if k <= len(i["cmc"]))
        out += ["", f"Identification: gallery of {i['gallery_size']} (one image per enrolled identity), "
                f"{i['mated_searches']} mated searches (a probe that failed to enroll counts as a miss) and "
                f"{i['nonmated_searches']} non-mated searches. {ranks}."]
        for fpir, found in i["fnir_at_fpir"].items():
            out.append(f"- FNIR at FPIR {fpir}: " + (f"{found['fnir']:.4f} (threshold {found['threshold']:.3f})" if found
                                                      else "not reportable with this many non-mated searches"))
        out += _quality_bar_lines(r.metrics["quality_bar"])
        if "degradation" in r.metrics:
            out += _degradation_lines(r.metrics["degradation"], r.metrics["quality_bar"])
        for column, groups in r.metrics["groups"].items():
            out += ["", f"### Groups by `{column}` at the operating threshold ({groups['operating_point']}, "
                        f"score {groups['threshold']:.3f})\n",
                    "| group | images | identities | genuine pairs | impostor pairs | FMR | FNMR | note |",
                    "|---|---|---|---|---|---|---|---|"]
            for name, g in groups["groups"].items():
                out.append(f"| {name} | {g['images']} | {g['identities']} | {g['genuine_pairs']} | {g['impostor_pairs']} "
                           f"| {_rate(g['fmr'])} | {_rate(g['fnmr'])} | {'too few pairs to compare' if g['too_few_pairs'] else ''} |")
            ratio = groups["fmr_ratio_worst_to_best"]
            out.append("\nWorst-to-best FMR ratio: " + (f"{ratio:.2f} over {groups['compared_groups']} groups" if ratio
                       else f"not computed ({groups['compared_groups']} groups with enough pairs, or a best FMR of 0)"))
        out.append("")
    if results:
        out.append("Rates come from this labeled set only; a small or easy set says little about hard photos.")
    if by_group is not None:
        out += _gallery_group_lines(by_group)
    return "\n".join(out)


def _gallery_group_lines(report: dict) -> list[str]:
    """The gallery's own error rates by subject group."""
    out = ["", f"## Gallery `{report['gallery']}` by group ({report['model_id']})\n",
           f"{report['faces']:,} faces of {report['subjects']:,} subjects, from the gallery itself, at the "
           f"{report['operating_point']} threshold (score {report['threshold']:.3f}). FMR: pairs of different "
           "subjects within the group (up to 3,000 of its faces); FNMR: pairs of photos of one subject (subjects "
           "with several photos). Intervals are 95% Wilson intervals; pairs share faces, so the true uncertainty "
           "is larger. Pairs of different subjects include any one person enrolled twice (see the possible "
           "duplicate subjects), which raises FMR."]
    if not report["columns"]:
        out.append("\nNo group column was given (--group COLUMN).")
    for column, groups in report["columns"].items():
        out += ["", f"### `{column}`\n",
                "| group | faces | subjects | with several photos | impostor pairs | FMR (95% interval) | genuine pairs "
                "| FNMR (95% interval) | note |", "|---|---|---|---|---|---|---|---|---|"]
        for name, g in groups["groups"].items():
            out.append(f"| {name} | {g['faces']:,} | {g['subjects']:,} | {g['subjects_with_several_photos']:,} "
                       f"| {g['impostor_pairs']:,} | {_rate(g['fmr'])}{_interval(g['fmr_interval'])} "
                       f"| {g['genuine_pairs']:,} | {_rate(g['fnmr'])}{_interval(g['fnmr_interval'])} "
                       f"| {'too few pairs to compare' if g['too_few_pairs'] else ''} |")
        ratio = groups["fmr_ratio_worst_to_best"]
        out.append("\nWorst-to-best FMR ratio: " + (f"{ratio:.2f} over {groups['compared_groups']} groups" if ratio
                   else f"not computed ({groups['compared_groups']} groups with enough pairs, or a best FMR of 0)"))
    return out


def write_report(folder: Path, dataset: str, results: list[ModelEvaluation], by_group: dict | None = None) -> Path:
    """``summary.md``, ``metrics.json``, ``pair-scores.csv`` and the score histogram, DET,
    error-versus-discard and CMC plots (PNG; with a labeled set) in ``folder``; returns the
    summary's path."""
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "metrics.json").write_text(json.dumps(
        {**{r.model_id: {"evaluation_id": r.evaluation_id, "failures_to_enroll": r.failures, **r.metrics} for r in results},
         **({"gallery_groups": by_group} if by_group is not None else {})}, indent=2))
    summary = folder / "summary.md"
    summary.write_text(markdown(dataset, results, by_group))
    if results:
        _plots(folder, results)
    return summary


def _plots(folder: Path, results: list[ModelEvaluation]) -> None:
    """pair-scores.csv and the score histogram, DET, error-versus-discard and CMC plots."""
    import matplotlib

    matplotlib.use("Agg")
    from matplotlib import pyplot as plt

    with (folder / "pair-scores.csv").open("w", newline="") as fh:
        writer = csv.writer(fh)
        writer.writerow(["model_id", "pair", "score"])
        for r in results:
            writer.writerows((r.model_id, "genuine", f"{s:.6f}") for s in r.pairs.genuine)
            writer.writerows((r.model_id, "impostor", f"{s:.6f}") for s in r.pairs.impostor)
    fig, axes = plt.subplots(len(results), 1, figsize=(7, 3 * len(results)), squeeze=False)
    for ax, r in zip(axes[:, 0], results):
        bins = np.linspace(-0.5, 1.0, 61)
        ax.hist(r.pairs.impostor, bins, density=True, alpha=0.6, label=f"impostor ({len(r.pairs.impostor)})")
        ax.hist(r.pairs.genuine, bins, density=True, alpha=0.6, label=f"genuine ({len(r.pairs.genuine)})")
        ax.set(title=r.model_id, xlabel="cosine score", ylabel="density")
        ax.legend()
    fig.tight_layout()
    fig.savefig(folder / "scores.png", dpi=100)
    fig, ax = plt.subplots(figsize=(6, 5))
    for r in results:
        thresholds = np.unique(np.concatenate([r.pairs.genuine, r.pairs.impostor]))
        far, frr = error_rates(r.pairs, thresholds)
        floor = 0.5 / max(len(r.pairs.impostor), len(r.pairs.genuine))
        ax.plot(np.maximum(far, floor), np.maximum(frr, floor), label=r.model_id)
    ax.set(xscale="log", yscale="log", xlabel="false accept rate", ylabel="false reject rate", title="DET")
    ax.legend()
    fig.savefig(folder / "det.png", dpi=100)
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        report = r.metrics["quality_bar"]
        curve = [p for p in report["edc"] if p["fnmr"] is not None]
        ax.plot([p["discarded"] for p in curve], [p["fnmr"] for p in curve], marker="o", label=r.model_id)
        if report["bar"]["fnmr"] is not None:
            ax.plot([report["bar"]["genuine_pairs_discarded"]], [report["bar"]["fnmr"]], marker="*", markersize=12,
                    linestyle="none", label=f"{r.model_id}: the {report['name']} bar")
    ax.set(xlabel="share of genuine pairs discarded, lowest quality first", ylabel="FNMR at the fixed threshold",
           title="Error versus discard")
    ax.legend()
    fig.savefig(folder / "edc.png", dpi=100)
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        cmc = r.metrics["identification"]["cmc"]
        ax.plot(range(1, len(cmc) + 1), cmc, marker="o", label=r.model_id)
    ax.set(xlabel="rank", ylabel="mated searches with the mate at or above rank", ylim=(0, 1.02), title="CMC")
    ax.legend()
    fig.savefig(folder / "cmc.png", dpi=100)
    plt.close("all")
