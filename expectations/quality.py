"""The image-quality gate: gallery and probe suites over per-face quality metrics.

Each suite is a Great Expectations 1.x suite built in code from a QualityBar (settings),
run in an ephemeral context (nothing written to disk) over a DataFrame with one row per
face, a whole batch of images at a time. Metric units are in models.quality.

Why the default bars sit where they do (measured with bench/quality.py on faces-dev's 78
labeled photos, SFace + YuNet):

- Inter-eye distance. ISO/IEC 19794-5 (and ICAO 9303) ask enrolment photos for 90 px
  between the eye centres; that is the bar for new captures, and an agency whose gallery is
  booking photos should raise the gallery bar to it. The default is 40 px because the
  recogniser never sees more: the ArcFace template it reads puts the eyes 35 px apart, and
  faces-dev genuine scores are the same at full size and at 50 px (mean 0.741) and lose
  under 1% at 35 px (0.735); faces-dev's web photos go down to 42.5 px. Probes: 20 px,
  where genuine scores still hold (0.715) and below which they fall away (0.690 at 16 px,
  0.627 at 12 px) while the detector loses a quarter, then 40%, of the faces.
- Sharpness (variance of the Laplacian of the aligned face). faces-dev: min 46, 5th
  percentile 94. A Gaussian blur of 0.15 inter-eye distances brings every face the
  detector still finds to 2.5-13; one of 0.08 to at most 24. Gallery 35, probe 15.
- Exposure. Face brightness on faces-dev 68-173, clipped share at most 0.03, contrast at
  least 17. A photo darkened to 6% measures brightness 5-10, contrast 2-4. Gallery:
  brightness 50-210, clipped <= 0.10, contrast >= 12; probe: 25-235, <= 0.35, >= 6.
- Pose. ISO/IEC 19794-5 allows 5 degrees of yaw and pitch and 8 of roll for frontal
  photos; the landmark estimates here are good to about 10 degrees, and faces-dev (web
  photos, some turned 20-30 degrees) measures roll within 12.7, yaw within 33, pitch
  within 13. Gallery: roll 15, yaw 35, pitch 25. Alignment undoes roll, so the probe
  allows 40 (the detector itself loses most faces beyond 45), yaw 60, pitch 40. Limit:
  a tight face crop turned 60 degrees can fool the detector into upright landmarks at a
  score near its threshold (5 of faces-dev's 150x150 crops); camera frames are measured.
- Detector score: 0.7 for both, the detector's own default, so that lowering the
  detector's threshold to find faces in a crowd does not lower the gate.
- Faces in the image: a gallery photo's subject must not be in doubt. Its face is the most
  prominent one (size times nearness to the centre, models/detect.py), and no other face
  may be at least 0.6 as prominent (``max_rival_faces`` 0); a background face may be
  there. A web news photo of one person often has another in the background: the old bar
  of exactly one face refused most of such a set, and enrolling the largest box chose
  the wrong person in 27 of 143 images a benchmark run looked at. A probe may show
  several (the analyst picks one). ``max_faces`` remains as an optional limit, off.
"""

from __future__ import annotations

import functools
import json
import logging
import math
from dataclasses import dataclass

from facelead.digest import sha256_hex
from facelead.settings import QualityBar

# metric column -> each bar field that limits it: (field, bound, why a face fails it). The
# order is the suites': it feeds their version hash, which stored verdicts carry.
CHECKS: dict[str, tuple[tuple[str, str, str], ...]] = {
    "face_count": (("max_faces", "max", "more than one face"),),
    "rival_faces": (("max_rival_faces", "max", "another face competes with it as the photo's subject"),),
    "inter_eye_px": (("min_inter_eye_px", "min", "face too small"),),
    "detector_score": (("min_detector_score", "min", "face unclear to the detector"),),
    "sharpness": (("min_sharpness", "min", "blurred"),),
    "brightness": (("min_brightness", "min", "too dark"), ("max_brightness", "max", "too bright")),
    "clipped_fraction": (("max_clipped_fraction", "max", "shadows or highlights clipped"),),
    "contrast": (("min_contrast", "min", "too little contrast"),),
    "roll_deg": (("max_roll_deg", "abs", "head tilted"),),
    "yaw_deg": (("max_yaw_deg", "abs", "head turned"),),
    "pitch_deg": (("max_pitch_deg", "abs", "head nodded up or down"),),
}
COUNT_METRICS = frozenset({"face_count", "rival_faces"})  # which face, not how good


@dataclass(frozen=True)
class CheckOutcome:
    """One expectation's outcome for one face."""

    check: str
    metric: str
    passed: bool
    observed: float
    min_value: float | None
    max_value: float | None
    reason: str

    def describe(self) -> str:
        """E.g. ``face too small (inter_eye_px 18.2, at least 40)``."""
        if self.min_value is not None and self.max_value is not None:
            limit = f"between {self.min_value:g} and {self.max_value:g}"
        elif self.min_value is not None:
            limit = f"at least {self.min_value:g}"
        else:
            limit = f"at most {self.max_value:g}"
        return f"{self.reason} ({self.metric} {self.observed:.3g}, {limit})"


@dataclass(frozen=True)
class QualityVerdict:
    """A face's outcome under one suite version: every check, passed or not."""

    suite: str
    suite_version: str
    checks: tuple[CheckOutcome, ...]

    @property
    def passed(self) -> bool:
        return all(c.passed for c in self.checks)

    @property
    def failures(self) -> tuple[CheckOutcome, ...]:
        return tuple(c for c in self.checks if not c.passed)

    def describe(self) -> str:
        """The failed checks, '; '-separated (empty when it passed)."""
        return "; ".join(c.describe() for c in self.failures)

    def margin(self) -> float:
        """How far the face clears its nearest limit, relative to that limit (0.5: half the
        limit to spare; negative: it fails). Face-count checks say which face, not how good,
        and are left out; inf when no measure is limited. The face's quality score for
        error-versus-discard curves."""
        margins = [sign * (c.observed - limit) / (abs(limit) or 1.0)
                   for c in self.checks if c.metric not in COUNT_METRICS
                   for limit, sign in ((c.min_value, 1), (c.max_value, -1)) if limit is not None]
        return min(margins, default=math.inf)


def bounds(bar: QualityBar) -> list[tuple[str, str, float | None, float | None, str]]:
    """(check, metric, min, max, reason) of every check the bar switches on."""
    out = []
    for metric, check, kind, reason in ((m, *limit) for m, limits in CHECKS.items() for limit in limits):
        limit = getattr(bar, check)
        if limit is None:
            continue
        if kind == "abs":
            out.append((check, metric, -float(limit), float(limit), reason))
        elif kind == "min":
            out.append((check, metric, float(limit), None, reason))
        else:
            out.append((check, metric, None, float(limit),
                        reason if check != "max_faces" or limit == 1 else f"more than {limit} faces"))
    return out


def suite_version(bar: QualityBar) -> str:
    """Short hash of the suite's checks and limits: it changes whenever a limit does."""
    canonical = json.dumps(bounds(bar), sort_keys=True)
    return sha256_hex(canonical)[:12]


@functools.cache
def _gx():
    """The Great Expectations module, its expectations and an ephemeral context, once per process."""
    # Quiet at INFO, before the import and after it: its data-context module sets its own
    # logger to INFO when imported, and would log "Created temporary directory ... for
    # ephemeral docs site" on every context.
    logging.getLogger("great_expectations").setLevel(logging.WARNING)
    import great_expectations as gx
    import great_expectations.expectations as gxe
    from great_expectations.data_context.types.base import ProgressBarsConfig

    logging.getLogger("great_expectations.data_context.types.base").setLevel(logging.WARNING)

    context = gx.get_context(mode="ephemeral")
    context.variables.progress_bars = ProgressBarsConfig(globally=False)
    asset = context.data_sources.add_pandas("facelead").add_dataframe_asset("face_quality")
    return gx, gxe, context, asset.add_batch_definition_whole_dataframe("batch")


def quality_suite(name: str, bar: QualityBar):
    """The suite ``name`` as a GX ExpectationSuite: one ExpectColumnValuesToBeBetween per check."""
    gx, gxe, _, _ = _gx()
    return gx.ExpectationSuite(name=f"{name}@{suite_version(bar)}", expectations=[
        gxe.ExpectColumnValuesToBeBetween(column=metric, min_value=low, max_value=high,
                                          meta={"check": check, "reason": reason})
        for check, metric, low, high, reason in bounds(bar)
    ])


@functools.cache
def prepare(name: str, bar: QualityBar):
    """Suite ``name``'s validation definition in this process's context, made once."""
    gx, _, context, batch = _gx()
    suite = context.suites.add(quality_suite(name, bar))
    return context.validation_definitions.add(gx.ValidationDefinition(name=suite.name, data=batch, suite=suite))


def validate(name: str, bar: QualityBar, rows: list[dict[str, float]]) -> list[QualityVerdict]:
    """Run suite ``name`` with ``bar``'s limits over one row of metrics per face, in one validation."""
    if not rows:
        return []
    import pandas as pd

    frame = pd.DataFrame(rows).reset_index(drop=True)
    result = prepare(name, bar).run(batch_parameters={"dataframe": frame},
                                        result_format={"result_format": "COMPLETE"})
    failed: dict[str, set[int]] = {}
    for outcome in result.results:
        if outcome.exception_info and outcome.exception_info.get("raised_exception"):
            raise RuntimeError(f"quality suite {name}: {outcome.expectation_config.meta['check']} could not run: "
                               f"{outcome.exception_info.get('exception_message')}")
        failed[outcome.expectation_config.meta["check"]] = set(outcome.result.get("unexpected_index_list") or [])
    version, checks = suite_version(bar), bounds(bar)
    return [
        QualityVerdict(name, version, tuple(
            CheckOutcome(check, metric, i not in failed[check], float(row[metric]), low, high, reason)
            for check, metric, low, high, reason in checks))
        for i, row in enumerate(rows)
    ]
