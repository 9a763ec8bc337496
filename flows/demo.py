"""The no-argument demo: enroll a public-domain group photo's faces, search a degraded one."""

from __future__ import annotations

from datetime import date, timedelta
from pathlib import Path

from facelead.access import new_token
from facelead.casework import FilingRules
from facelead.demo import SOLVAY_1927, crop_face, degrade, fetch_photo, mask_other_faces, nearest_centre, reading_order
from facelead.policy import CERTIFIED_ROLES, Action
from facelead.settings import SecuritySettings, Settings
from facelead.workflow import add_user, decide_request, file_request, known_users, reset_user, run_flow_for, set_secret
from flows.build_index import build_index
from flows.enroll_gallery import enroll_gallery
from flows.search_probe import SearchOutcome, search_probe
from models.faces import load
from models.image import decode_image
from tasks.faces import face_models

DEMO_GALLERY = "demo-solvay-1927"
DEMO_CASE = "DEMO-1927"
# The 1927 photo's faces are 32-47 px between the eyes, below the default gallery bar of
# 40: the demo enrolls them under a lowered bar, as an operator would for a legacy gallery.
DEMO_MIN_INTER_EYE_PX = 30.0


# The demo's people, by user id: their roles, and what the pages let them do.
DEMO_PEOPLE = {
    "demo-analyst": (["analyst"], "files a request, runs its search, records a determination"),
    "demo-supervisor": (["supervisor"], "approves or denies requests"),
    "demo-reviewer": (["reviewer"], "reviews a determination, blind"),
    "demo-detective": (["requester"], "reads a released lead"),
}


def demo_people(db_path: Path, limits: SecuritySettings) -> None:
    """An administrator and ``DEMO_PEOPLE`` (analysts and reviewers certified for a year) in
    the demo's own database, those missing added. The demo acts for them itself, so nobody
    sets a secret and the codes are dropped."""
    present = known_users(db_path)
    if "demo-admin" not in present:
        add_user(db_path, None, "demo-admin", "Demo administrator", ["admin"], None, limits)
    for user_id, (roles, _) in DEMO_PEOPLE.items():
        if user_id not in present:
            certified = date.today() + timedelta(days=365) if CERTIFIED_ROLES & set(roles) else None
            add_user(db_path, "demo-admin", user_id, user_id.replace("-", " ").title(), roles, certified, limits)


def demo_secrets(db_path: Path, limits: SecuritySettings) -> dict[str, str]:
    """A fresh secret for each of ``DEMO_PEOPLE``, set as they would set it (an admin's reset,
    then their enrollment code), for signing in to the demo's pages; the secrets by user id."""
    chosen = {}
    for user_id in DEMO_PEOPLE:
        chosen[user_id] = new_token()
        set_secret(db_path, user_id, reset_user(db_path, "demo-admin", user_id, limits), chosen[user_id], limits)
    return chosen


def demo_settings(settings: Settings) -> Settings:
    """``settings`` with the demo's own database, under ``<data>/demo``, apart from the agency's."""
    return settings.replaced(database=(settings.data_dir / "demo" / "facelead.duckdb").absolute())


def run_demo(settings: Settings) -> tuple[SearchOutcome, str]:
    """Build ``<data>/demo`` (one face crop per person, a degraded probe) with its own
    database and demo users; enroll; file, approve and run a search request.

    Returns the search outcome and the subject id the probe was cut from.
    """
    settings = demo_settings(settings)
    database = settings.database_path
    root = database.parent
    photo = fetch_photo(SOLVAY_1927, root / "solvay_conference_1927.jpg")
    image = decode_image(photo.read_bytes(), settings.max_image_pixels)
    detector, _ = load(face_models(settings))
    detections = detector.detect(image)
    subjects = {}
    for number, index in enumerate(reading_order(detections), start=1):
        subject = f"solvay-1927-{number:02d}"
        subjects[index] = subject
        target = root / "gallery" / subject / "solvay_1927.jpg"
        target.parent.mkdir(parents=True, exist_ok=True)
        alone = mask_other_faces(image, detections.boxes, index)
        crop_face(alone, detections.boxes[index], margin=0.3).save(target, quality=95)
    probe_index = detections.largest()
    probe = root / "probe_degraded.jpg"
    probe.write_bytes(degrade(crop_face(image, detections.boxes[probe_index], margin=0.8)))
    probe_pixels = decode_image(probe.read_bytes(), settings.max_image_pixels)
    in_probe = detector.detect(probe_pixels)
    probe_face = nearest_centre(in_probe, probe_pixels.shape[1], probe_pixels.shape[0])  # the analyst's choice
    print(f"demo probe shows {len(in_probe)} face(s); the analyst picks face {probe_face + 1}, the one it was cut around")
    print(f"demo gallery: {len(subjects)} people from {photo.name}; probe: {probe}")
    print(f"demo gallery quality bar: {DEMO_MIN_INTER_EYE_PX:g} px between the eyes instead of "
          f"{settings.quality.gallery.min_inter_eye_px:g} (a 1927 group photo)")
    demo_people(database, settings.security)
    run_flow_for(settings, "demo-admin", Action.ENROLL, f"gallery:{DEMO_GALLERY}", enroll_gallery,
                 source=str((root / "gallery").absolute()), gallery=DEMO_GALLERY,
                 source_name="Solvay conference 1927 (public domain)",
                 quality_bar=settings.quality.gallery.model_copy(update={"min_inter_eye_px": DEMO_MIN_INTER_EYE_PX}))
    run_flow_for(settings, "demo-admin", Action.BUILD, f"gallery:{DEMO_GALLERY}", build_index,
                 gallery=DEMO_GALLERY)  # too small to index: searched exactly, and calibrated
    request = file_request(database, "demo-analyst", DEMO_CASE, settings.offense_codes[0],
                           "demo: identify a person in a public-domain photo", probe.absolute(), DEMO_GALLERY,
                           FilingRules.of(settings))
    decide_request(database, "demo-supervisor", request, True, "demo")
    print(f"demo request {request}: filed by demo-analyst, approved by demo-supervisor; database {database}")
    outcome = run_flow_for(settings, "demo-analyst", Action.SEARCH, f"request:{request}", search_probe,
                           request_id=request, k=10, face_index=probe_face)
    return outcome, subjects[probe_index]
