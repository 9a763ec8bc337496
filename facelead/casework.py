"""The investigation's rules beyond who may do what (``policy``): pure functions of typed
records, plain values and settings, each written once, for the workflow, flows, tasks and
pages that ask them. A rule answers None (allowed) or the refusal with its reason; the
caller raises it inside ``workflow.audited``, so it reaches the audit log. No I/O here.

A request's states: pending -> approved | denied; approved -> searched (once, by its filer,
while the approval lasts). A search's review: awaiting determination (its analyst's) ->
awaiting review (a different certified reviewer's, blind) -> released | disputed.
"""

from __future__ import annotations

import re
from collections.abc import Collection, Mapping, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta

from facelead.access import clean_name
from facelead.refusal import Refusal
from facelead.settings import Settings
from warehouse.records import StoredRequest

ANALYST, REVIEWER = "analyst", "reviewer"  # the two determinations of a search, in order


class WorkflowRefused(Refusal, ValueError):
    """A step that must not happen now."""


class SearchRefused(Refusal, ValueError):
    """A search that must not run (its probe, its face or its gallery)."""


@dataclass(frozen=True)
class FilingRules:
    """What a request must carry: an offense code among ``offenses``, a case number in the
    agency's format, a justification of a sensible length (``Settings.filing``)."""

    offenses: tuple[str, ...]
    case_number_pattern: str
    justification_chars: tuple[int, int]

    @classmethod
    def of(cls, settings: Settings) -> FilingRules:
        f = settings.filing
        return cls(tuple(settings.offense_codes), f.case_number_pattern,
                   (f.justification_min_chars, f.justification_max_chars))


def filing_refusal(case_number: str, offense_code: str, justification: str, rules: FilingRules,
                   requested_for: str | None, requested_for_roles: Collection[str]) -> WorkflowRefused | None:
    """A request needs a case number in the agency's format, an offense code among the
    permitted and a justification within the length range; one filed for someone is for a
    user with the requester role (``requested_for_roles``: theirs, empty for no such user)."""
    missing = [name for name, value in (("case number", case_number), ("offense code", offense_code),
                                        ("justification", justification)) if not value.strip()]
    if missing:
        return WorkflowRefused("missing", f"a request needs a {', a '.join(missing)}")
    if not re.fullmatch(rules.case_number_pattern, case_number):
        return WorkflowRefused("case_number", f"case number {clean_name(case_number)!r} is not in the agency's format "
                                              f"({rules.case_number_pattern})")
    low, high = rules.justification_chars
    if not low <= len(justification.strip()) <= high:
        return WorkflowRefused("justification", f"a justification has {low} to {high} characters "
                                                f"(this one has {len(justification.strip()):,})")
    if requested_for and "requester" not in requested_for_roles:
        return WorkflowRefused("requester", f"{clean_name(requested_for)!r} is not a user with the requester role")
    if offense_code not in rules.offenses:
        return WorkflowRefused("offense", f"offense code {offense_code!r} is not one of the permitted: "
                                          f"{', '.join(rules.offenses)}")
    return None


def request_state(request: StoredRequest) -> str:
    """'pending', 'approved', 'denied' or 'searched'."""
    if request.search_id is not None:
        return "searched"
    return request.decision or "pending"


OVERSIGHT = frozenset({"supervisor", "auditor"})  # roles that see every search, each view audited


def search_view_refusal(search_id: str, actor: str, roles: Collection[str], ran_by: str,
                        determiners: Mapping[str, str]) -> WorkflowRefused | None:
    """Need-to-know: a search (its sheet, its candidates, its re-run) is seen by the analyst who
    ran it, by a reviewer while it awaits review and by the one who reviewed it, and by
    supervisors and auditors (oversight); never by another analyst, whatever else they hold."""
    reviewer = determiners.get(REVIEWER)
    if actor == ran_by or OVERSIGHT & set(roles):
        return None
    if "reviewer" in roles and ANALYST in determiners and reviewer in (None, actor):
        return None
    return WorkflowRefused("need_to_know", f"search {search_id} is another analyst's; it is seen by its analyst, "
                                           "its reviewer, supervisors and auditors")


def probe_view_refusal(request: StoredRequest | None, request_id: str, actor: str) -> WorkflowRefused | None:
    """A request's probe photo is seen by its filer, and by a supervisor while deciding it;
    once decided, through the case's disclosure packet (audited)."""
    if request is None:
        return WorkflowRefused("no_such_request", f"no request {request_id}")
    if actor != request.requested_by and request.decision is not None:
        return WorkflowRefused("need_to_know", f"request {request_id} was {request.decision}; its probe is seen "
                                               "through the case's export now")
    return None


def probe_upload_refusal(size: int, max_bytes: int) -> WorkflowRefused | None:
    """A request uploads one probe photo, of at most ``max_bytes``."""
    if not size:
        return WorkflowRefused("probe", "choose the probe photo to search")
    if size > max_bytes:
        return WorkflowRefused("too_large", f"the probe is {size:,} bytes; at most {max_bytes:,} are taken "
                                            "(a still cut from the video, not the video itself)")
    return None


def decision_refusal(request: StoredRequest | None, request_id: str, actor: str, approve: bool,
                     reason: str) -> WorkflowRefused | None:
    """A pending request is decided once, by a supervisor who did not file it; a denial
    gives its reason."""
    if request is None:
        return WorkflowRefused("no_such_request", f"no request {request_id}")
    if request.requested_by == actor:
        return WorkflowRefused("self_approval", f"{actor} filed request {request_id} and cannot decide it")
    if request.decision is not None:
        return WorkflowRefused("decided", f"request {request_id} was {request.decision} already")
    if not approve and not reason.strip():
        return WorkflowRefused("reason", "a denial needs its reason, for the requester and the audit")
    return None


def decided_refusal(request_id: str, written: bool) -> WorkflowRefused | None:
    """The decision written first stands: one that found the request decided when writing
    (another supervisor's at the same moment) is refused."""
    return None if written else WorkflowRefused("decided", f"request {request_id} was decided by someone else a moment ago")


def lead_refusal(search_id: str, actor: str, released_to_actor: bool) -> WorkflowRefused | None:
    """A lead is shown only to its requester, and only once both examiners agreed (released)."""
    return None if released_to_actor else WorkflowRefused(
        "not_released", f"no lead of search {search_id} has been released to {actor}")


def runnable_refusal(request: StoredRequest | None, request_id: str) -> WorkflowRefused | None:
    """A request runs only once approved, and only once."""
    if request is None:
        return WorkflowRefused("no_such_request", f"no request {request_id}")
    if request.decision != "approved":
        state = "is still pending" if request.decision is None else f"was {request.decision}"
        return WorkflowRefused("not_approved", f"request {request_id} {state}")
    if request.search_id is not None:
        return WorkflowRefused("already_run", f"request {request_id} has run already (search {request.search_id})")
    return None


def claim_refusal(request_id: str, claimed: bool) -> WorkflowRefused | None:
    """The search that marks the request as run is its one run: a search that found it marked
    already (another run checked it at the same moment) is refused."""
    return None if claimed else WorkflowRefused("already_run", f"request {request_id} has run already")


def search_refusal(request: StoredRequest | None, request_id: str, actor: str, now: datetime,
                   approval_days: float) -> WorkflowRefused | None:
    """``actor`` may search the request now: runnable, approved within ``approval_days``,
    and filed by ``actor`` (a request is its filer's)."""
    refusal = runnable_refusal(request, request_id)
    if refusal is not None:
        return refusal
    if request.decided_at + timedelta(days=approval_days) < now:
        return WorkflowRefused("approval_expired", f"request {request_id} was approved on {request.decided_at:%Y-%m-%d}; "
                                                   f"approvals last {approval_days:g} days: file it again")
    if request.requested_by != actor:
        return WorkflowRefused("not_filer", f"request {request_id} was filed by {request.requested_by}; "
                                            "only its filer may run it")
    return None


def approved_face_refusal(request_id: str, approved: int | None, asked: int | None) -> SearchRefused | None:
    """A request approved for one face of its probe searches that face and no other."""
    if approved is not None and asked is not None and asked != approved:
        return SearchRefused("face_not_approved", f"request {request_id} was approved for face {approved + 1} "
                                                  f"of its probe, not face {asked + 1}")
    return None


def probe_changed_refusal(probe: str, kept_sha256: str, read_sha256: str, since: str) -> SearchRefused | None:
    """The probe searched is byte for byte the file as kept ``since`` (when it was filed, or
    when the search ran)."""
    if read_sha256 != kept_sha256:
        return SearchRefused("probe_changed", f"{probe}: the file changed after {since}")
    return None


def probe_quality_refusal(probe: str, passed: bool, override: str | None, verdict: str) -> SearchRefused | None:
    """A probe face below the probe quality bar is searched only with a reason (``needs_override``)."""
    if needs_override(passed, override):
        return SearchRefused("probe_quality", f"{probe}: probe below the quality bar: {verdict}."
                                              " Search it anyway only with an override reason.")
    return None


def gallery_refusal(gallery: str, model_id: str, size: int) -> SearchRefused | None:
    """A gallery with no faces for the recogniser is not searched."""
    return SearchRefused("empty_gallery", f"gallery {gallery!r} has no faces for {model_id}") if not size else None


def rerun_refusal(search_id: str, ran_on: tuple[str, str], installed: tuple[str, str],
                  build: str | None, build_on_disk: bool) -> WorkflowRefused | None:
    """A search is re-run only on the recogniser and detector it ran on (``ran_on`` and
    ``installed``: recogniser, detector) and through its index build, still on disk."""
    if installed != ran_on:
        return WorkflowRefused("model_changed", f"search {search_id} ran on {ran_on[0]} and {ran_on[1]}; "
                                                f"this install has {installed[0]} and {installed[1]}")
    if build is not None and not build_on_disk:
        return WorkflowRefused("build_gone", f"index build {build} of search {search_id} is no longer on disk")
    return None


def search_found_refusal(found: object | None, search_id: str) -> WorkflowRefused | None:
    """A step on a search names one that exists (``found``: what was read of it, None if nothing)."""
    return WorkflowRefused("no_such_search", f"no search {search_id}") if found is None else None


def determination_stage(search_actor: str, actor: str) -> str:
    """Whose determination ``actor`` records on a search run by ``search_actor``: the
    analyst's (who ran it) or a reviewer's (anyone else)."""
    return ANALYST if search_actor == actor else REVIEWER


def open_stage(search_actor: str, actor: str, recorded: Collection[str]) -> str | None:
    """The determination ``actor`` may record now (``recorded``: the stages on record), or None."""
    stage = determination_stage(search_actor, actor)
    if stage == ANALYST:
        return None if ANALYST in recorded else ANALYST
    return REVIEWER if ANALYST in recorded and REVIEWER not in recorded else None


def determination_refusal(search_id: str, actor: str, stage: str, recorded: Collection[str], rank: int | None,
                          candidate_found: bool) -> WorkflowRefused | None:
    """Each stage is recorded once, the analyst's first; the reviewer is someone other than
    the analyst; a rank names a candidate of the search."""
    if stage == ANALYST and ANALYST in recorded:
        return WorkflowRefused("own_search", f"{actor} ran search {search_id} and recorded a determination; "
                                             "its review needs a different reviewer")
    if stage in recorded:
        return WorkflowRefused("recorded", f"the {stage} determination of search {search_id} is recorded already")
    if stage == REVIEWER and ANALYST not in recorded:
        return WorkflowRefused("analyst_first", f"search {search_id} awaits the analyst's determination")
    if rank is not None and not candidate_found:
        return WorkflowRefused("no_such_rank", f"search {search_id} has no candidate at rank {rank}")
    return None


def review_outcome(recorded: Mapping[str, str | None]) -> str:
    """'released' (both agree), 'disputed' (they differ), 'awaiting review' or 'awaiting
    determination'; ``recorded``: each stage's chosen face id (None: no candidate)."""
    if ANALYST not in recorded:
        return "awaiting determination"
    if REVIEWER not in recorded:
        return "awaiting review"
    return "released" if recorded[ANALYST] == recorded[REVIEWER] else "disputed"


def new_user_refusal(user_id: str, roles: Collection[str], first_user: bool, reserved: bool,
                     exists: bool) -> WorkflowRefused | None:
    """A new user has a name of their own (not a deployment schedule's, not another user's);
    the first user of a database is an administrator, who adds the rest."""
    if reserved:
        return WorkflowRefused("reserved", f"{user_id!r} is the identity of a deployment's schedule, not a person's")
    if exists:
        return WorkflowRefused("exists", f"user {user_id!r} exists already")
    if first_user and "admin" not in roles:
        return WorkflowRefused("bootstrap", "the first user must hold the admin role")
    return None


def enrollment_source_refusal(source: str | None, in_service_folders: bool) -> WorkflowRefused | None:
    """An enrollment names its source (or the settings do), and never one that lies in or
    holds one of facelead's own folders, where probes, sheets and exports lie."""
    if not source:
        return WorkflowRefused("no_source", "nothing to enroll: pass source, or set FACELEAD_ENROLL_SOURCE "
                                            "to the drop folder or manifest")
    if in_service_folders:
        return WorkflowRefused("service_folder", f"{source}: lies in or holds facelead's own folders, whose "
                                                 "probes, sheets and exports are never enrolled")
    return None


def export_refusal(case_number: str, actor: str, roles: Collection[str],
                   awaiting_review: Sequence[str]) -> WorkflowRefused | None:
    """A person who may review (the ``reviewer`` role) does not export a case while one of its
    searches that another analyst ran awaits review: the packet holds that analyst's
    determination, which blind review keeps from its reviewer."""
    if "reviewer" in roles and any(ran_by != actor for ran_by in awaiting_review):
        return WorkflowRefused("review_pending", f"a search of case {clean_name(case_number)!r} awaits blind review, "
                                                 "which you may give: export it once the review is recorded")
    return None


def case_found_refusal(case_number: str, requests: int) -> WorkflowRefused | None:
    """A case is exported only when facelead holds a request for it."""
    return None if requests else WorkflowRefused("no_such_case", f"no request was filed for case "
                                                                 f"{clean_name(case_number)!r}: nothing to export")


def period_refusal(start: date, end: date) -> WorkflowRefused | None:
    """A report's period ends after it starts."""
    return None if end > start else WorkflowRefused("period", f"the period must end after it starts ({start} to {end})")


def own_roles_refusal(actor: str, user_id: str) -> WorkflowRefused | None:
    """An administrator's own roles are changed by another administrator."""
    if user_id == actor:
        return WorkflowRefused("own_roles", "an administrator's own roles are changed by another administrator")
    return None


def pair_mark_refusal(gallery_id: str, subject_a: str, subject_b: str,
                      missing: Sequence[str]) -> WorkflowRefused | None:
    """Two subjects marked as the same person or not are two, both in the gallery
    (``missing``: those that are not)."""
    if subject_a == subject_b:
        return WorkflowRefused("same_subject", f"{subject_a} and {subject_b} are one subject id")
    if missing:
        return WorkflowRefused("no_such_subject", f"gallery {gallery_id} has no subject {', '.join(missing)}")
    return None


def searched_exactly(gallery_size: int, exact_below: int) -> bool:
    """A gallery of fewer than ``exact_below`` faces is searched exactly, whatever its index
    builds, and no build is made for it."""
    return gallery_size < exact_below


def needs_override(passed: bool, override: str | None) -> bool:
    """Whether a probe face may not be searched yet: it is below the probe quality bar
    (``passed`` false) and no reason (text that is not blank) says why it must be anyway."""
    return not passed and not (override or "").strip()


def kept_override(passed: bool, override: str | None) -> str | None:
    """The override reason a search keeps: none for a face that met the bar."""
    return None if passed else override


@dataclass(frozen=True)
class FaceChoice:
    """The probe face a request will search (None: not settled) and what stops it, if anything."""

    index: int | None
    error: str | None = None

    @property
    def settled(self) -> bool:
        return self.index is not None and self.error is None


def face_choice_refusal(choice: FaceChoice) -> WorkflowRefused | None:
    """A request is filed only for a settled face (``face_choice``)."""
    return None if choice.settled else WorkflowRefused("face_choice", choice.error or "choose the face to search")


def face_choice(failures: Sequence[str], asked: int | None, override: str | None) -> FaceChoice:
    """The face to file a request for, given each detected face's quality failures ('' when
    it meets the probe bar), the face ``asked`` for (from 0) and the override reason: a lone
    face is chosen for the analyst; several need a choice; a face below the bar needs a reason."""
    if asked is None and len(failures) != 1:
        return FaceChoice(None)
    asked = 0 if asked is None else asked
    if not 0 <= asked < len(failures):
        return FaceChoice(None, f"face {asked + 1} asked for, the probe shows {len(failures)}: choose one of them")
    if needs_override(not failures[asked], override):
        return FaceChoice(asked, f"face {asked + 1} is below the probe quality bar ({failures[asked]}); give the "
                                 "reason to search it anyway, or choose a better frame")
    return FaceChoice(asked)
