"""`grandrounds view` on a free-text (disclosure none) run: the level is shown, and each judged
conflict verdict carries the quoted words the judge based it on."""

from __future__ import annotations

import pytest

import builders
from transcripts.scoring import score_transcript
from transcripts.store import read_transcript
from tui.app.render_events import render_scorecard, render_step
from tui.app.replay_model import ReplayModel


from agents.runner import RunSpec, run_sync
from agents.judging import gateway_complete


def test_replay_shows_disclosure_and_judged_quotes(tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "cache.sqlite"))
    team = builders.team()
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred",
                   out_dir=tmp_path, disclosure="none")
    path = run_sync(spec).path
    card = score_transcript(path, judge="scripted/preferred", complete=gateway_complete)
    model = ReplayModel(read_transcript(path).events)
    header = render_step(model, model.steps[0]).plain
    assert "disclosure none" in header
    shown = render_scorecard(card.model_dump(mode="json"), model).plain
    c1 = next(c for c in card.conflicts if c.id == "C1")
    assert c1.judged and c1.quote
    assert "judged" in shown and f'"{c1.quote}"' in " ".join(shown.split())
    assert "raised:" in shown


def test_without_a_judge_the_view_says_not_assessed(tmp_path) -> None:
    team = builders.team()
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred",
                   out_dir=tmp_path, disclosure="none")
    card = score_transcript(run_sync(spec).path)
    assert "not assessed (free text, no judge)" in render_scorecard(card.model_dump(mode="json")).plain
