"""The investigation's rules beyond roles, without a database."""

from dataclasses import replace
from datetime import date, datetime, timedelta, timezone

import pytest

from facelead import casework
from facelead.casework import (
    ANALYST,
    REVIEWER,
    FaceChoice,
    face_choice,
    kept_override,
    needs_override,
    searched_exactly,
)
from facelead.settings import Settings
from warehouse.records import StoredRequest

NOW = datetime(2026, 12, 3, 12, tzinfo=timezone.utc)
FILED = StoredRequest(
    request_id="r1", case_number="24-001", offense_code="homicide", justification="suspect in CCTV",
    gallery_id="default", probe_path="/p.jpg", probe_sha256="aa", requested_by="ana", requested_at=NOW,
    face_index=None, quality_override=None, requested_for=None, decision=None, decided_by=None, decided_at=None,
    decision_reason=None, search_id=None)
APPROVED = replace(FILED, decision="approved", decided_by="sam", decided_at=NOW - timedelta(days=1))


def _reason(refusal) -> str | None:
    return None if refusal is None else refusal.reason


@pytest.mark.parametrize("size, exact", [(0, True), (999, True), (1000, False), (5000, False)])
def test_a_gallery_below_the_cutoff_is_searched_exactly(size, exact):
    assert searched_exactly(size, 1000) is exact


@pytest.mark.parametrize("passed, override, refused", [
    (True, None, False), (True, "", False),  # a face that meets the bar needs no reason
    (False, None, True), (False, "", True), (False, "  \t", True),  # nor does a blank one count as one
    (False, "the only frame of the assailant", False)])
def test_a_face_below_the_bar_is_searched_only_with_a_reason(passed, override, refused):
    assert needs_override(passed, override) is refused


def test_a_search_keeps_the_reason_only_for_a_face_below_the_bar():
    assert kept_override(True, "not needed") is None
    assert kept_override(False, "the only frame") == "the only frame"


def test_a_lone_face_is_chosen_for_the_analyst_and_several_need_a_choice():
    assert face_choice([""], None, None) == FaceChoice(0) and FaceChoice(0).settled
    assert face_choice(["", ""], None, None) == FaceChoice(None) and not FaceChoice(None).settled
    lone_dark = face_choice(["too dark"], None, None)  # chosen, but not filed without a reason
    assert lone_dark.index == 0 and "below the probe quality bar" in lone_dark.error


def test_a_chosen_face_must_be_the_probe_s_and_one_below_the_bar_needs_a_reason():
    absent = face_choice(["", ""], 2, None)
    assert absent.index is None and "face 3 asked for, the probe shows 2" in absent.error
    dark = face_choice(["", "too dark"], 1, "  ")
    assert (dark.index, dark.settled) == (1, False) and "below the probe quality bar (too dark)" in dark.error
    assert face_choice(["", "too dark"], 1, "the only frame").settled
    assert face_choice(["", "too dark"], 0, None) == FaceChoice(0)


@pytest.mark.parametrize("case, offense, justification, for_user, for_roles, reason", [
    ("24-001", "homicide", "suspect in CCTV", None, (), None),
    ("24-001", "homicide", "suspect in CCTV", "det", ("requester",), None),
    ("  ", "homicide", "suspect in CCTV", None, (), "missing"),
    ("24-001", "homicide", "", None, (), "missing"),
    ("24-001", "homicide", "suspect in CCTV", "det", ("analyst",), "requester"),  # filed for someone who does not request
    ("24-001", "homicide", "suspect in CCTV", "ghost", (), "requester"),  # or for no one
    ("24-001", "shoplifting", "suspect in CCTV", None, (), "offense"),
    ("<script>", "homicide", "suspect in CCTV", None, (), "case_number"),  # the agency's format only
    ("24/001/../../x", "homicide", "suspect in CCTV", None, (), "case_number"),
    ("2" * 41, "homicide", "suspect in CCTV", None, (), "case_number"),
    ("24-001\n", "homicide", "suspect in CCTV", None, (), "case_number"),
    ("24-001", "homicide", "why", None, (), "justification"),  # too short to say why
    ("24-001", "homicide", "x" * 20_000, None, (), "justification")])  # or a page of text
def test_a_request_is_filed_with_a_case_a_permitted_offense_a_reason_and_for_a_requester(
        case, offense, justification, for_user, for_roles, reason):
    rules = casework.FilingRules.of(Settings(offense_codes=["homicide", "robbery"]))
    refusal = casework.filing_refusal(case, offense, justification, rules, for_user, for_roles)
    assert _reason(refusal) == reason


def test_a_request_moves_from_pending_to_decided_to_searched():
    assert casework.request_state(FILED) == "pending"
    assert casework.request_state(APPROVED) == "approved"
    assert casework.request_state(replace(FILED, decision="denied")) == "denied"
    assert casework.request_state(replace(APPROVED, search_id="s1")) == "searched"


@pytest.mark.parametrize("request_, actor, approve, reason, refused", [
    (FILED, "sam", True, "", None),
    (FILED, "sam", False, "no link to the offense", None),
    (None, "sam", True, "", "no_such_request"),
    (FILED, "ana", True, "", "self_approval"),  # the filer, even holding the supervisor role too
    (APPROVED, "sue", False, "late", "decided"),
    (FILED, "sam", False, "  ", "reason")])
def test_a_pending_request_is_decided_once_by_another_supervisor_a_denial_with_its_reason(
        request_, actor, approve, reason, refused):
    assert _reason(casework.decision_refusal(request_, "r1", actor, approve, reason)) == refused


@pytest.mark.parametrize("request_, actor, refused", [
    (APPROVED, "ana", None),
    (None, "ana", "no_such_request"),
    (FILED, "ana", "not_approved"),
    (replace(FILED, decision="denied"), "ana", "not_approved"),
    (replace(APPROVED, search_id="s1"), "ana", "already_run"),
    (replace(APPROVED, decided_at=NOW - timedelta(days=8)), "ana", "approval_expired"),
    (APPROVED, "bob", "not_filer")])
def test_only_its_filer_searches_an_approved_request_once_while_the_approval_lasts(request_, actor, refused):
    assert _reason(casework.search_refusal(request_, "r1", actor, NOW, approval_days=7)) == refused


def test_of_two_at_the_same_moment_the_write_that_lands_first_stands():
    assert casework.decided_refusal("r1", written=True) is None
    assert "someone else" in casework.decided_refusal("r1", written=False).detail
    assert casework.claim_refusal("r1", claimed=True) is None
    assert casework.claim_refusal("r1", claimed=False).reason == "already_run"


@pytest.mark.parametrize("roles, first, reserved, exists, refused", [
    (["admin"], True, False, False, None), (["analyst"], False, False, False, None),
    (["analyst"], True, False, False, "bootstrap"),  # the first user administers the rest
    (["admin"], False, True, False, "reserved"), (["admin"], False, False, True, "exists")])
def test_a_new_user_has_a_name_of_their_own_and_the_first_is_an_administrator(roles, first, reserved, exists, refused):
    assert _reason(casework.new_user_refusal("new", roles, first, reserved, exists)) == refused


@pytest.mark.parametrize("source, ours, refused", [
    ("/drop", False, None), (None, False, "no_source"), ("", False, "no_source"), ("/srv/data", True, "service_folder")])
def test_an_enrollment_names_its_source_never_facelead_s_own_folder(source, ours, refused):
    assert _reason(casework.enrollment_source_refusal(source, ours)) == refused


@pytest.mark.parametrize("actor, roles, determiners, refused", [
    ("ana", {"analyst"}, {}, None),  # who ran it
    ("bob", {"analyst"}, {"analyst": "ana"}, "need_to_know"),  # another analyst
    ("rev", {"reviewer"}, {}, "need_to_know"),  # before the analyst's determination nothing is to review
    ("rev", {"reviewer"}, {"analyst": "ana"}, None),  # awaiting review
    ("rev", {"reviewer"}, {"analyst": "ana", "reviewer": "rev"}, None),  # who reviewed it
    ("ria", {"reviewer", "analyst"}, {"analyst": "ana", "reviewer": "rev"}, "need_to_know"),  # reviewed by another
    ("sam", {"supervisor"}, {}, None), ("aud", {"auditor"}, {}, None)])  # oversight
def test_a_search_is_seen_by_its_analyst_its_reviewer_and_oversight(actor, roles, determiners, refused):
    assert _reason(casework.search_view_refusal("s1", actor, roles, "ana", determiners)) == refused


@pytest.mark.parametrize("request_, actor, refused", [
    (FILED, "ana", None), (FILED, "sam", None),  # its filer; a supervisor deciding it
    (APPROVED, "ana", None), (APPROVED, "sam", "need_to_know"),  # decided: its filer only
    (None, "sam", "no_such_request")])
def test_a_probe_is_seen_by_its_filer_and_by_a_supervisor_while_deciding(request_, actor, refused):
    assert _reason(casework.probe_view_refusal(request_, "r1", actor)) == refused


@pytest.mark.parametrize("size, refused", [(1, None), (100, None), (0, "probe"), (101, "too_large")])
def test_a_request_uploads_one_probe_within_its_size(size, refused):
    assert _reason(casework.probe_upload_refusal(size, 100)) == refused


@pytest.mark.parametrize("roles, awaiting, refused", [
    ({"supervisor"}, ["ana"], None), ({"auditor", "reviewer"}, [], None),
    ({"auditor", "reviewer"}, ["ana"], "review_pending"),  # could review it: the packet would show the analyst's call
    ({"supervisor", "reviewer", "analyst"}, ["me"], None)])  # their own search: nothing to keep from them
def test_a_case_is_not_exported_by_someone_who_may_still_review_it_blind(roles, awaiting, refused):
    assert _reason(casework.export_refusal("24-001", "me", roles, awaiting)) == refused


def test_only_a_case_facelead_holds_is_exported():
    assert casework.case_found_refusal("24-001", 2) is None
    assert _reason(casework.case_found_refusal("24-001", 0)) == "no_such_case"


def test_a_report_s_period_ends_after_it_starts():
    assert casework.period_refusal(date(2026, 11, 1), date(2026, 12, 1)) is None
    assert _reason(casework.period_refusal(date(2026, 11, 1), date(2026, 11, 1))) == "period"


def test_a_lead_is_shown_to_its_requester_only_once_released():
    assert casework.lead_refusal("s1", "det", released_to_actor=True) is None
    assert casework.lead_refusal("s1", "det", released_to_actor=False).reason == "not_released"


def test_a_request_approved_for_one_face_searches_that_face_alone():
    assert casework.approved_face_refusal("r1", None, 2) is None  # no face chosen when filing
    assert casework.approved_face_refusal("r1", 1, None) is None and casework.approved_face_refusal("r1", 1, 1) is None
    refused = casework.approved_face_refusal("r1", 1, 0)
    assert refused.reason == "face_not_approved" and "face 2 of its probe, not face 1" in refused.detail


def test_a_probe_is_searched_only_as_kept_and_below_the_bar_only_with_a_reason():
    assert casework.probe_changed_refusal("/p.jpg", "aa", "aa", "filing") is None
    assert casework.probe_changed_refusal("/p.jpg", "aa", "bb", "filing").reason == "probe_changed"
    assert casework.probe_quality_refusal("/p.jpg", True, None, "ok") is None
    assert casework.probe_quality_refusal("/p.jpg", False, "the only frame", "too dark") is None
    assert casework.probe_quality_refusal("/p.jpg", False, " ", "too dark").reason == "probe_quality"
    assert casework.gallery_refusal("g", "sface", 0).reason == "empty_gallery"
    assert casework.gallery_refusal("g", "sface", 3) is None


@pytest.mark.parametrize("installed, build, on_disk, refused", [
    (("sface", "yunet"), None, False, None),  # searched exactly: no build needed
    (("sface", "yunet"), "b1", True, None),
    (("other", "yunet"), "b1", True, "model_changed"),
    (("sface", "other"), None, False, "model_changed"),
    (("sface", "yunet"), "b1", False, "build_gone")])
def test_a_search_is_re_run_only_on_its_models_and_its_build(installed, build, on_disk, refused):
    assert _reason(casework.rerun_refusal("s1", ("sface", "yunet"), installed, build, on_disk)) == refused


def test_the_analyst_determines_first_then_a_different_reviewer_blind():
    assert casework.determination_stage("ana", "ana") == ANALYST
    assert casework.determination_stage("ana", "rev") == REVIEWER
    assert casework.open_stage("ana", "ana", set()) == ANALYST
    assert casework.open_stage("ana", "rev", set()) is None  # nothing to review yet
    assert casework.open_stage("ana", "rev", {ANALYST}) == REVIEWER
    assert casework.open_stage("ana", "ana", {ANALYST}) is None  # the analyst never reviews their own
    assert casework.open_stage("ana", "rev", {ANALYST, REVIEWER}) is None


@pytest.mark.parametrize("stage, recorded, rank, found, refused", [
    (ANALYST, set(), 1, True, None),
    (ANALYST, set(), None, False, None),  # no candidate
    (ANALYST, {ANALYST}, 1, True, "own_search"),
    (REVIEWER, {ANALYST, REVIEWER}, 1, True, "recorded"),
    (REVIEWER, set(), 1, True, "analyst_first"),
    (REVIEWER, {ANALYST}, 99, False, "no_such_rank")])
def test_each_determination_is_recorded_once_in_order_and_names_a_candidate(stage, recorded, rank, found, refused):
    assert _reason(casework.determination_refusal("s1", "x", stage, recorded, rank, found)) == refused


@pytest.mark.parametrize("recorded, outcome", [
    ({}, "awaiting determination"),
    ({ANALYST: "f1"}, "awaiting review"),
    ({ANALYST: "f1", REVIEWER: "f1"}, "released"),
    ({ANALYST: None, REVIEWER: None}, "released"),  # both: no candidate
    ({ANALYST: "f1", REVIEWER: "f2"}, "disputed"),
    ({ANALYST: "f1", REVIEWER: None}, "disputed")])
def test_a_lead_is_released_only_when_both_examiners_agree(recorded, outcome):
    assert casework.review_outcome(recorded) == outcome


def test_an_administrator_changes_others_roles_and_marks_two_subjects_of_the_gallery():
    assert casework.own_roles_refusal("adm", "adm").reason == "own_roles"
    assert casework.own_roles_refusal("adm", "ana") is None
    assert casework.pair_mark_refusal("g", "s1", "s1", []).reason == "same_subject"
    assert casework.pair_mark_refusal("g", "s1", "s2", ["s2"]).reason == "no_such_subject"
    assert casework.pair_mark_refusal("g", "s1", "s2", []) is None
