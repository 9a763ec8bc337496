import pytest

from facelead.cli import main, parser


@pytest.mark.parametrize("k", ["1", "51"])
def test_k_outside_2_to_50_is_refused_before_anything_runs(k, capsys):
    with pytest.raises(SystemExit) as info:
        main(["search", "probe.jpg", "--case", "C-1", "--k", k])
    assert info.value.code == 2 and "--k must be between 2 and 50" in capsys.readouterr().err


def test_search_requires_a_case_number(capsys):
    with pytest.raises(SystemExit):
        main(["search", "probe.jpg"])
    assert "--case" in capsys.readouterr().err


def test_help_lists_every_command():
    text = parser().format_help()
    for command in ("demo", "enroll", "search", "index", "remove", "audit", "models"):
        assert command in text
    assert "never a positive identification" in " ".join(text.split())


def test_face_numbers_start_at_one(capsys):
    with pytest.raises(SystemExit):
        main(["search", "probe.jpg", "--case", "C-1", "--face", "0"])
    assert "--face counts from 1" in capsys.readouterr().err


def test_a_quality_override_reason_is_an_option_of_search_only():
    args = parser().parse_args(["search", "probe.jpg", "--case", "C-1", "--quality-override", "only frame"])
    assert args.quality_override == "only frame"
    assert parser().parse_args(["search", "probe.jpg", "--case", "C-1"]).quality_override is None
    with pytest.raises(SystemExit):
        parser().parse_args(["enroll", "x.csv", "--quality-override", "no"])
