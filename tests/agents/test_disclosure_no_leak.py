"""Disclosure `none`: no prompt and no reply schema sent to any member or the chair names a conflict.

Every model call of a run is captured at the gateway (messages and JSON Schema, exactly what a
provider would receive) and searched for each conflict's title, id, option ids and option texts.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

import builders
from agents import deliberation
from agents.runner import RunSpec, run_sync
from agents.team_loader import find_team, load_team, team_snapshot
from scenarios.loader import library_dir, load_scenario
from scenarios.model import Scenario
from transcripts.store import read_transcript

PROTOCOLS = ("round_robin", "moderated", "parallel")


def _norm(text: str) -> str:
    return " ".join(text.lower().split())


def _shown_text(scenario: Scenario) -> str:
    """What a member may legitimately read: words in here are not leaks even if an id spells them."""
    parts = [scenario.title, scenario.presentation, scenario.question, json.dumps(scenario.patient)]
    parts += [f.text for f in scenario.facts] + [s.wishes for s in scenario.stakeholders]
    return _norm(" ".join(parts))


def leaks(scenario: Scenario, text: str) -> list[str]:
    """Every conflict title, option text, option id and conflict id found in `text`."""
    found = []
    low = _norm(text)
    shown = _shown_text(scenario)
    for conflict in scenario.conflicts:
        if _norm(conflict.title) in low:
            found.append(f"title of {conflict.id}: {conflict.title!r}")
        # a one-word option id ("withhold") is an ordinary word a member may use; ids shaped like
        # ids (a hyphen or a digit: C1, sign-as-drafted) must never appear
        ids = [i for i in [conflict.id] + [o.id for o in conflict.options] if re.search(r"[-\d]", i)]
        for ident in ids:
            pattern = rf"(?<![\w-]){re.escape(ident.lower())}(?![\w-])"
            if re.search(pattern, low) and not re.search(pattern, shown):
                found.append(f"id {ident!r}")
        for option in conflict.options:
            if _norm(option.text.rstrip(".")) in low:
                found.append(f"text of option {option.id}")
    return found


@pytest.fixture
def captured(monkeypatch: pytest.MonkeyPatch) -> list:
    calls: list = []
    real = deliberation.acomplete

    async def spy(call):
        calls.append(call)
        return await real(call)

    monkeypatch.setattr(deliberation, "acomplete", spy)
    return calls


def _assert_no_leak(scenario: Scenario, calls: list) -> None:
    assert calls, "no model call was captured"
    for call in calls:
        sent = "\n".join(str(m.get("content", "")) for m in call.messages) + "\n" + json.dumps(call.schema)
        found = leaks(scenario, sent)
        assert not found, f"{scenario.id}: a {call.kind} prompt for {call.context.get('member')} leaks {found}"


def test_the_leak_check_catches_the_options_prompt(tmp_path: Path, captured: list) -> None:
    """Under `options` the same check finds titles, ids and texts: it is not vacuous."""
    team = builders.team()
    scenario = builders.scenario()
    run_sync(RunSpec(scenario=scenario, team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred", out_dir=tmp_path))
    found = leaks(scenario, "\n".join(str(m["content"]) for c in captured for m in c.messages) + json.dumps(captured[0].schema))
    assert any(f.startswith("title") for f in found) and any(f.startswith("text") for f in found)
    assert "id 'explore-then-disclose'" in found and "id 'C1'" in found


@pytest.mark.parametrize("protocol", PROTOCOLS)
def test_none_mode_prompts_and_schemas_hold_no_conflict(tmp_path: Path, captured: list, protocol: str) -> None:
    team = builders.team(protocol)
    scenario = builders.scenario()
    spec = RunSpec(scenario=scenario, team=team, team_snapshot=builders.snapshot(team), model="scripted/unacceptable", out_dir=tmp_path, disclosure="none")
    result = run_sync(spec)
    assert result.status == "completed"
    kinds = {c.kind for c in captured}
    assert {"turn", "resolution"} <= kinds and (protocol != "moderated" or "chair_decision" in kinds)
    _assert_no_leak(scenario, captured)
    transcript = read_transcript(result.path)
    assert transcript.started.disclosure == "none" and transcript.started.settings["disclosure"] == "none"
    # members raised concerns in their own words, tagged with a dimension and no conflict id
    turns = [e.turn for e in transcript.events if e.type == "turn" and e.ok]
    assert turns and all(c["conflict"] is None and c["dimension"] for t in turns for c in t["concerns"])
    assert all(not t["choices"] for t in turns)
    resolution = transcript.resolution.resolution
    assert resolution["choices"] == [] and resolution["final_recommendation"]


def test_none_mode_over_the_whole_library(tmp_path: Path, captured: list) -> None:
    path = find_team("default")
    team = load_team(path)
    snapshot = team_snapshot(team, path)
    for case in sorted(library_dir().glob("*.yaml")):
        scenario = load_scenario(case)
        captured.clear()
        spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model="scripted/preferred", out_dir=tmp_path, disclosure="none")
        assert run_sync(spec).status in ("completed", "limit_reached")
        _assert_no_leak(scenario, captured)


@pytest.mark.parametrize("team_id", ["solo", "self-consistency"])
def test_none_mode_baselines_over_the_whole_library(tmp_path: Path, captured: list, team_id: str) -> None:
    path = find_team(team_id)
    team = load_team(path)
    snapshot = team_snapshot(team, path)
    for case in sorted(library_dir().glob("*.yaml")):
        scenario = load_scenario(case)
        captured.clear()
        spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model="scripted/mixed", out_dir=tmp_path, disclosure="none")
        assert run_sync(spec).status == "completed"
        assert len(captured) == (1 if team_id == "solo" else team.limits.samples)
        _assert_no_leak(scenario, captured)
