"""Re-run a past search against the model, index build and gallery it used; report differences."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Annotated

from prefect import flow
from pydantic import Field

from facelead import casework
from facelead.policy import Action
from facelead.refusal import refuse
from facelead.settings import current_settings
from flows.runtime import acting_user, refusals_audited
from models.index import Ranked
from tasks.faces import embed_probe, face_models
from tasks.index import rank_gallery
from tasks.persist import record_event, search_record
from tasks.search import compare


@dataclass(frozen=True)
class RerunReport:
    search_id: str
    candidates: list[Ranked]
    differences: list[str]  # empty: the same candidates, in the same order, with the same scores

    @property
    def identical(self) -> bool:
        return not self.differences


@refusals_audited
@flow(name="rerun-search")
def rerun_search(search_id: Annotated[str, Field(min_length=1)], grant: str | None = None) -> RerunReport:
    """Search the same probe bytes and face with the same models, method and index build,
    against the gallery as it stood when the search ran (minus faces removed since), and
    report every difference from the stored candidates; the re-run is audited.

    Args:
        search_id: The past search to re-run (as printed by `facelead search`).
        grant: Issued by facelead for this run (`facelead rerun`); a run without one is refused.
    """
    settings = current_settings()
    person = acting_user(settings, Action.RERUN, f"search:{search_id}", grant, search_id=search_id)
    actor = person.user_id
    record, build = search_record(settings.database_path, search_id)
    refuse(casework.search_found_refusal(record, search_id))
    refuse(casework.search_view_refusal(search_id, actor, person.roles, record.ran_by, record.determiners))
    models = face_models(settings)
    on_disk = build is not None and (settings.database_path.parent / build.folder).is_dir()
    refuse(casework.rerun_refusal(search_id, (record.model_id, record.detector_id),
                                  (models.recogniser.model_id, models.detector.model_id),
                                  build and build.build_id, on_disk))
    probe = embed_probe(record.probe_path, models, settings.max_image_pixels, record.probe_face_index,
                        settings.quality.probe)
    refuse(casework.probe_changed_refusal(record.probe_path, record.probe_sha256, probe.sha256,
                                          f"search {search_id} ran"))
    ranked, _ = rank_gallery(settings.database_path, settings.dask, record.gallery_id, record.model_id,
                             probe.face.vector, record.k, build, record.created_at)
    differences = compare(record.candidates, ranked)
    record_event(settings.database_path, actor, "search.rerun", f"search:{search_id}",
                 {"identical": not differences, "differences": differences})
    return RerunReport(search_id, ranked, differences)
