"""An evaluation's report folder: the summary people read (Markdown), metrics.json, the pair
scores and the plots."""

from __future__ import annotations

import csv
import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from facelead.metrics import PairScores, error_rates


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
            out.append(_fmr_ratio_line(groups))
        out.append("")
    if results:
        out.append("Rates come from this labeled set only; a small or easy set says little about hard photos.")
    if by_group is not None:
        out += _gallery_group_lines(by_group)
    return "\n".join(out)


def _fmr_ratio_line(groups: dict) -> str:
    """How far apart the groups' FMRs are: the worst over the best."""
    ratio, compared = groups["fmr_ratio_worst_to_best"], groups["compared_groups"]
    return "\nWorst-to-best FMR ratio: " + (f"{ratio:.2f} over {compared} groups" if ratio else
                                             f"not computed ({compared} groups with enough pairs, or a best FMR of 0)")


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
        out.append(_fmr_ratio_line(groups))
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


def _finish(fig: Any, ax: Any, path: Path, **labels: Any) -> None:
    """Label the plot's axes, add its legend and save it as ``path``."""
    ax.set(**labels)
    ax.legend()
    fig.savefig(path, dpi=100)


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
    _finish(fig, ax, folder / "det.png", xscale="log", yscale="log", xlabel="false accept rate",
            ylabel="false reject rate", title="DET")
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        report = r.metrics["quality_bar"]
        curve = [p for p in report["edc"] if p["fnmr"] is not None]
        ax.plot([p["discarded"] for p in curve], [p["fnmr"] for p in curve], marker="o", label=r.model_id)
        if report["bar"]["fnmr"] is not None:
            ax.plot([report["bar"]["genuine_pairs_discarded"]], [report["bar"]["fnmr"]], marker="*", markersize=12,
                    linestyle="none", label=f"{r.model_id}: the {report['name']} bar")
    _finish(fig, ax, folder / "edc.png", xlabel="share of genuine pairs discarded, lowest quality first",
            ylabel="FNMR at the fixed threshold", title="Error versus discard")
    fig, ax = plt.subplots(figsize=(6, 4))
    for r in results:
        cmc = r.metrics["identification"]["cmc"]
        ax.plot(range(1, len(cmc) + 1), cmc, marker="o", label=r.model_id)
    _finish(fig, ax, folder / "cmc.png", xlabel="rank", ylabel="mated searches with the mate at or above rank",
            ylim=(0, 1.02), title="CMC")
    plt.close("all")
