"""The investigation's rules beyond roles, without a database."""

import pytest

from facelead.casework import FaceChoice, face_choice, kept_override, needs_override, searched_exactly


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
