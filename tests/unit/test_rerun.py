from models.index import Ranked
from tasks.search import compare
from warehouse.records import StoredCandidate

STORED = [StoredCandidate(1, "a/0", 0.71), StoredCandidate(2, "b/0", 0.40)]


def test_the_same_list_has_no_differences():
    assert compare(STORED, [Ranked(1, 0.71, "a/0", "A"), Ranked(2, 0.40, "b/0", "B")]) == []


def test_a_missing_candidate_and_a_changed_score_are_each_reported():
    differences = compare(STORED, [Ranked(1, 0.40, "b/0", "B"), Ranked(2, 0.33, "c/0", "C")])
    assert len(differences) == 2
    assert "was a/0" in differences[0] and "no longer returned" in differences[0]
    assert "was b/0" in differences[1] and "now at rank 1" in differences[1]
    assert compare(STORED, [Ranked(1, 0.70, "a/0", "A"), Ranked(2, 0.40, "b/0", "B")]) == [
        "rank 1: a/0 scored 0.7100, now 0.7000"]
