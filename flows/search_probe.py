"""Search one probe photo against a gallery and write its candidate sheet."""

from __future__ import annotations

import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Annotated

from prefect import flow
from prefect.artifacts import create_table_artifact
from pydantic import Field

from facelead.settings import Settings
from facelead.tasks.faces import embed_probe, face_models
from facelead.tasks.persist import load_gallery, record_event, record_search
from facelead.tasks.search import Ranked, SearchRefused, search_exact
from facelead.tasks.sheet import write_sheet

K_MIN, K_MAX = 2, 50


@dataclass(frozen=True)
class SearchOutcome:
    """A ranked candidate list (investigative leads, never a match) and its sheet."""

    search_id: str
    case_number: str
    candidates: list[Ranked]
    sheet: Path


@flow(name="search-probe")
def search_probe(
    probe: Annotated[str, Field(description="path of the probe photo")],
    case_number: Annotated[str, Field(min_length=1, pattern=r"\S", description="case the search is for")],
    k: Annotated[int, Field(ge=K_MIN, le=K_MAX, description="candidates to return")] = 20,
    gallery: Annotated[str, Field(description="gallery to search")] = "default",
    face_index: Annotated[int | None, Field(ge=0, description="probe face to use; default the largest")] = None,
) -> SearchOutcome:
    """Rank the gallery's faces against the probe's face; persist, audit, write the sheet.

    The probe is never enrolled. A refused search (unreadable probe, no face, empty
    gallery) is audited and raises SearchRefused.
    """
    settings = Settings()
    db_path, actor, search_id = settings.database_path, settings.user, str(uuid.uuid4())
    models = face_models(settings)
    try:
        probe_face = embed_probe(probe, models, settings.max_image_pixels, face_index)
        face_ids, subject_ids, vectors = load_gallery(db_path, gallery, models.recogniser.model_id)
        if not face_ids:
            raise SearchRefused("empty_gallery", f"gallery {gallery!r} has no faces for {models.recogniser.model_id}")
    except SearchRefused as exc:
        record_event(db_path, actor, "search.refused", f"case:{case_number}",
                     {"probe": probe, "gallery_id": gallery, "reason": exc.reason, "detail": exc.detail})
        raise
    ranked = search_exact(vectors, probe_face.face.vector, face_ids, subject_ids, k)
    record_search(db_path, search_id, case_number, gallery, models, k, "exact", len(face_ids), probe_face, ranked, actor)
    sheet = write_sheet(db_path, search_id, settings.sheets_dir, actor)
    create_table_artifact(
        [{"rank": r.rank, "score": round(r.score, 4), "subject_id": r.subject_id, "face_id": r.face_id} for r in ranked],
        key="search-candidates", description=f"case {case_number}, search {search_id}; sheet: {sheet}")
    return SearchOutcome(search_id, case_number, ranked, sheet)
