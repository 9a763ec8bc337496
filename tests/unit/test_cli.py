import pytest

from facelead.cli import main, parser


@pytest.mark.parametrize("k", ["1", "51"])
def test_k_outside_2_to_50_is_refused_before_anything_runs(k, capsys):
    with pytest.raises(SystemExit) as info:
        main(["search", "REQ-1", "--k", k])
    assert info.value.code == 2 and "argument --k: must be between 2 and 50" in capsys.readouterr().err


def test_a_request_needs_case_offense_and_justification(capsys):
    with pytest.raises(SystemExit):
        main(["request", "probe.jpg", "--case", "C-1"])
    err = capsys.readouterr().err
    assert "--offense" in err and "--justification" in err


def test_help_lists_every_command():
    text = parser().format_help()
    for command in ("demo", "enroll", "users", "request", "approve", "deny", "search", "determine", "sheet",
                    "index", "remove", "audit", "models"):
        assert command in text
    assert "never a positive identification" in " ".join(text.split())


def test_face_numbers_start_at_one(capsys):
    with pytest.raises(SystemExit):
        main(["search", "REQ-1", "--face", "0"])
    assert "argument --face: counts from 1" in capsys.readouterr().err


def test_a_quality_override_reason_is_an_option_of_search_only():
    args = parser().parse_args(["search", "REQ-1", "--quality-override", "only frame"])
    assert args.quality_override == "only frame"
    assert parser().parse_args(["search", "REQ-1"]).quality_override is None
    with pytest.raises(SystemExit):
        parser().parse_args(["enroll", "x.csv", "--quality-override", "no"])


def test_a_determination_is_a_rank_or_no_candidate_never_both(capsys):
    assert parser().parse_args(["determine", "S-1", "--no-candidate"]).rank is None
    assert parser().parse_args(["determine", "S-1", "--rank", "2"]).rank == 2
    for wrong in (["determine", "S-1"], ["determine", "S-1", "--rank", "2", "--no-candidate"]):
        with pytest.raises(SystemExit):
            parser().parse_args(wrong)


def test_a_denial_needs_a_reason_and_tokens_are_no_option():
    with pytest.raises(SystemExit):
        parser().parse_args(["deny", "REQ-1"])
    for command in (["users", "list"], ["search", "REQ-1"], ["request", "p.jpg"]):
        with pytest.raises(SystemExit):
            parser().parse_args([*command, "--token", "secret"])
