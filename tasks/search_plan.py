"""What a search runs on, decided before it ranks: the approved face of the request's
probe, embedded and checked, and how its gallery is searched (exactly, or through its
serving index build). Every refusal is audited with the case it was for."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from facelead import casework
from facelead.casework import SearchRefused
from facelead.intake.batches import ProbeFace, probe_quality_tables
from facelead.refusal import refuse
from facelead.settings import Settings
from models.faces import FaceModels
from tasks.faces import embed_probe
from tasks.persist import index_status, record_event
from warehouse.records import StoredBuild, StoredRequest


@dataclass(frozen=True)
class SearchPlan:
    probe: ProbeFace
    face_index: int | None  # the probe face searched, as asked or as approved
    quality_override: str | None  # the request's reason, else the run's
    gallery_size: int
    build: StoredBuild | None  # the serving index build to rank through; None: the gallery exactly


def plan_search(settings: Settings, request: StoredRequest, asked_face: int | None, quality_override: str | None,
                models: FaceModels, actor: str, search_id: str) -> SearchPlan:
    """The plan for running ``request`` (approved) as search ``search_id``.

    Refused (SearchRefused, audited as ``search.refused``): a face other than the one the
    request was approved for, a probe file changed since filing, a probe below the probe bar
    with no override reason (its verdicts stored), a gallery with no faces for the model.
    A gallery smaller than ``index.exact_below`` is searched exactly whatever its builds.
    """
    approved_face = request.face_index  # chosen when filed: the supervisor approved the search of that face
    face_index = approved_face if asked_face is None else asked_face
    override = request.quality_override or quality_override
    probe, gallery, model_id = request.probe_path, request.gallery_id, models.recogniser.model_id
    quality = None
    try:
        refuse(casework.approved_face_refusal(request.request_id, approved_face, asked_face))
        probe_face = embed_probe(probe, models, settings.max_image_pixels, face_index, settings.quality.probe)
        refuse(casework.probe_changed_refusal(probe, request.probe_sha256, probe_face.sha256,
                                              f"request {request.request_id} was filed"))
        if casework.needs_override(probe_face.verdict.passed, override):
            quality = probe_quality_tables(probe_face, search_id, gallery)
        refuse(casework.probe_quality_refusal(probe, probe_face.verdict.passed, override,
                                              probe_face.verdict.describe()))
        size, build = index_status(settings.database_path, gallery, model_id)
        refuse(casework.gallery_refusal(gallery, model_id, size))
    except SearchRefused as exc:
        record_event(settings.database_path, actor, "search.refused", f"case:{request.case_number}",
                     {"search_id": search_id, "request_id": request.request_id, "probe": Path(probe).name,
                      "gallery_id": gallery, "reason": exc.reason, "detail": exc.detail}, quality)
        exc.audited = True
        raise
    return SearchPlan(probe_face, face_index, override, size,
                      None if casework.searched_exactly(size, settings.index.exact_below) else build)
