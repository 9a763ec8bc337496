"""The gallery and the program: enrollment, index builds, calibration, possible
duplicates, removal, the retention purge, evaluations and the oversight report."""

from __future__ import annotations

from fastapi import APIRouter

from facelead import workflow
from facelead.api.bodies import Enrollment, EvaluationAsk, IndexBuild, PairMark, Period, Removal
from facelead.doors import AppSettings, User
from facelead.policy import Action
from flows.build_index import build_index
from flows.calibrate_gallery import calibrate as calibrate_gallery
from flows.enroll_gallery import enroll_gallery
from flows.evaluate import evaluate
from flows.oversight_report import oversight_report
from flows.retention_purge import retention_purge
from tasks.calibration import describe_calibration, duplicates_markdown

router = APIRouter()


@router.post("/api/enrollments")
def enroll(settings: AppSettings, body: Enrollment, user: User) -> dict:
    summary = workflow.run_flow_for(settings, user, Action.ENROLL, f"gallery:{body.gallery}", enroll_gallery,
                                    source=body.source, gallery=body.gallery, source_name=body.source_name)
    return {"markdown": summary.markdown(), "enrolled": summary.enrolled, "refused": summary.refused}


@router.post("/api/galleries/{gallery}/index")
def index(settings: AppSettings, gallery: str, body: IndexBuild, user: User) -> dict:
    built = workflow.run_flow_for(settings, user, Action.BUILD, f"gallery:{gallery}", build_index, gallery=gallery,
                                  shards=body.shards)
    if built is None:
        return {"built": False}
    return {"built": True, "build_id": built.build_id, "vectors": built.vectors, "shards": built.shards,
            "seconds": built.seconds}


@router.post("/api/galleries/{gallery}/calibrate")
def calibrate(settings: AppSettings, gallery: str, user: User) -> dict:
    calibrated = workflow.run_flow_for(settings, user, Action.CALIBRATE, f"gallery:{gallery}", calibrate_gallery,
                                       gallery=gallery)
    return {"summary": describe_calibration(calibrated),
            "markdown": duplicates_markdown(gallery, calibrated.closest, named=True)}


@router.get("/api/galleries/{gallery}/duplicates")
def duplicates(settings: AppSettings, gallery: str, user: User) -> dict:
    pairs = workflow.possible_duplicates(settings.database_path, user, gallery)
    return {"markdown": duplicates_markdown(gallery, pairs, named=True)}


@router.post("/api/galleries/{gallery}/duplicates")
def mark_pair(settings: AppSettings, gallery: str, body: PairMark, user: User) -> dict:
    workflow.mark_subject_pair(settings.database_path, user, gallery, (body.subject_a, body.subject_b),
                               body.same_person, body.note)
    return {"marked": True}


@router.post("/api/galleries/{gallery}/remove")
def remove(settings: AppSettings, gallery: str, body: Removal, user: User) -> dict:
    return {"removed": workflow.remove_subject(settings.database_path, user, gallery, body.subject, body.reason)}


@router.post("/api/purge")
def purge(settings: AppSettings, user: User) -> dict:
    return workflow.run_flow_for(settings, user, Action.PURGE, "warehouse", retention_purge)


@router.post("/api/evaluations")
def evaluation(settings: AppSettings, body: EvaluationAsk, user: User) -> dict:
    target = f"dataset:{body.source}" if body.source else f"gallery:{body.gallery}"
    outcome = workflow.run_flow_for(settings, user, Action.EVALUATE, target, evaluate, source=body.source,
                                    gallery=body.gallery, recognisers=body.recognisers,
                                    group_columns=body.group_columns, bootstrap=body.bootstrap,
                                    quality_bar=body.quality_bar, bar_limits=body.bar_limits,
                                    degraded_probes=body.degraded_probes)
    return {"summary": outcome.summary.read_text(), "report": str(outcome.summary.parent)}


@router.post("/api/reports/oversight")
def oversight(settings: AppSettings, body: Period, user: User) -> dict:
    report = workflow.run_flow_for(settings, user, Action.REPORT, "reports", oversight_report, start=body.start,
                                   end=body.end)
    return {"markdown": report.markdown, "csv_name": report.csv_path.name, "csv": report.csv_path.read_text()}
