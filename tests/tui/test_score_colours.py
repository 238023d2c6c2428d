"""A score has one colour wherever it is shown: the CLI's scorecard table and the TUI's bars agree."""

from __future__ import annotations

import pytest

from tui.app.render import hbar, score_style as app_style
from tui.cli.scorecard_view import score_text
from tui.score_colours import FAIR, GOOD, score_style


@pytest.mark.parametrize("score", [None, 0, FAIR - 0.5, FAIR, 55, GOOD - 0.5, GOOD, 74, 75, 100])
def test_cli_and_tui_colour_a_score_alike(score):
    expected = score_style(score)
    assert app_style(score) == expected
    if score is not None:
        assert score_text(score).style == expected
        assert hbar(score).style == expected


def test_the_thresholds():
    assert [score_style(s) for s in (None, 39.9, 40, 69.9, 70)] == ["dim", "red", "yellow", "yellow", "green"]
