"""Search one probe photo against a gallery and write its candidate sheet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path
from typing import Annotated

from prefect import flow
from prefect.artifacts import create_link_artifact, create_markdown_artifact
from pydantic import Field

from facelead.policy import Action
from facelead.settings import current_settings
from facelead.workflow import runnable_request
from flows.runtime import acting_user, refusals_audited
from models.index import Ranked
from tasks.faces import face_models
from tasks.index import rank_gallery
from tasks.persist import record_search
from tasks.search_plan import plan_search
from tasks.sheet import write_sheet

K_MIN, K_MAX = 2, 50


@dataclass(frozen=True)
class SearchOutcome:
    """A ranked candidate list (investigative leads, never a match) and its sheet."""

    search_id: str
    case_number: str
    candidates: list[Ranked]
    sheet: Path
    probe_quality_failures: str  # '' when the probe met the quality bar


@refusals_audited
@flow(name="search-probe")
def search_probe(
    request_id: Annotated[str, Field(min_length=1)],
    k: Annotated[int, Field(ge=K_MIN, le=K_MAX)] = 20,
    face_index: Annotated[int | None, Field(ge=0)] = None,
    quality_override: Annotated[str | None, Field(min_length=1, pattern=r"\S")] = None,
    grant: str | None = None,
) -> SearchOutcome:
    """Run an approved request once, for the analyst who filed it: rank its gallery's faces
    against its probe's face; persist, audit, write the sheet.

    The run acts for the user its grant names; facelead issues the grant when that
    analyst asks for the search (`facelead search`). A run without a valid grant (the
    Prefect UI's Run button, a direct call) is refused and audited. The probe is never
    enrolled. A request that is not approved, was approved too long ago, has run already
    or was filed by someone else, a user who may not search, a probe changed since the
    request, no face, a probe below the quality bar without an override reason, or an
    empty gallery: the refusal is audited and raised (AccessDenied, WorkflowRefused or
    SearchRefused).

    Args:
        request_id: The approved search request to run (`facelead request` prints it).
        k: Candidates to return, 2 to 50.
        face_index: Which probe face to search, counted from 0 in detector order
            (highest score first); needed when the probe shows several faces and the
            request did not choose one.
        quality_override: Why a probe below the quality bar must be searched anyway;
            stored, audited and printed on the candidate sheet; default the request's.
        grant: Issued by facelead for this run; a run without one is refused.
    """
    settings = current_settings()
    db_path, search_id = settings.database_path, str(uuid.uuid4())
    actor = acting_user(settings, Action.SEARCH, f"request:{request_id}", grant, request_id=request_id, k=k,
                        face_index=face_index, quality_override=quality_override).user_id
    request = runnable_request(db_path, actor, request_id, settings.security.approval_days)
    models = face_models(settings)
    plan = plan_search(settings, request, face_index, quality_override, models, actor, search_id)
    as_of = datetime.now(timezone.utc)
    ranked, method = rank_gallery(db_path, settings.dask, request.gallery_id, models.recogniser.model_id,
                                  plan.probe.face.vector, k, plan.build, as_of)
    record_search(db_path, search_id, request_id, request.case_number, request.gallery_id, models, k, method,
                  plan.gallery_size, plan.probe, plan.quality_override, ranked, actor, as_of)
    sheet = write_sheet(db_path, search_id, settings.sheets_dir, actor)
    # Prefect keeps artifacts beyond any purge and shows them to every operator: they name the
    # search and count its candidates, never a subject, a case or a score.
    create_markdown_artifact(f"Search `{search_id}`: {len(ranked)} candidates ({method.method}). The candidates "
                             f"are in facelead, for those the policy allows: `facelead sheet {search_id}` (audited).",
                             key="search-candidates", description=f"search {search_id}")
    create_link_artifact(sheet.absolute().as_uri(), link_text=f"candidate sheet of search {search_id}",
                         key="candidate-sheet", description=f"on the facelead host; for an audited view: facelead sheet {search_id}")
    return SearchOutcome(search_id, request.case_number, ranked, sheet, plan.probe.verdict.describe())
