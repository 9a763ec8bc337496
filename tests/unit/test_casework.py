"""The investigation's rules beyond roles, without a database."""

import pytest

from facelead.casework import kept_override, needs_override, searched_exactly


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
