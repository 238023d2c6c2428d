"""Does the score measure what it claims? On every library case with conflicts, a council that picks
the preferred options must outscore one that picks unacceptable options, overall and on every
dimension the conflicts touch, with the acceptable policy in between (or equal) -- by the rules
alone and with the scripted judge grading the rubric.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.judging import gateway_complete
from agents.runner import RunSpec, run_sync
from agents.team_loader import find_team, load_team, team_snapshot
from scenarios.loader import library_dir, load_scenario
from scenarios.model import Scenario
from transcripts.scoring import score_transcript
from transcripts.scoring.scorecard import Scorecard

POLICIES = ("preferred", "acceptable", "unacceptable")
CASES = sorted(library_dir().glob("*.yaml"))


def _cases_with_conflicts() -> list[Path]:
    out = []
    for path in CASES:
        try:
            if load_scenario(path).conflicts:
                out.append(path)
        except Exception:  # noqa: BLE001 - a broken case is the scenario tests' business
            continue
    return out


@pytest.fixture(scope="module")
def team():
    path = find_team("default")
    t = load_team(path)
    return t, team_snapshot(t, path)


def _run(scenario: Scenario, team, policy: str, out: Path) -> Path:
    t, snapshot = team
    result = run_sync(RunSpec(scenario=scenario, team=t, team_snapshot=snapshot, model=f"scripted/{policy}", seed=0, batch="validity", out_dir=out))
    assert result.status in ("completed", "limit_reached"), f"{scenario.id} {policy}: run {result.status}"
    return result.path


def _check_order(scenario: Scenario, cards: dict[str, Scorecard], how: str) -> None:
    pref, acc, bad = cards["preferred"], cards["acceptable"], cards["unacceptable"]
    assert pref.overall is not None and bad.overall is not None
    assert pref.overall > bad.overall, f"{scenario.id} ({how}): preferred {pref.overall} <= unacceptable {bad.overall}"
    assert pref.overall >= acc.overall >= bad.overall, (
        f"{scenario.id} ({how}): overall not ordered: {pref.overall} / {acc.overall} / {bad.overall}"
    )
    for d in scenario.dimensions():
        p, a, b = (c.dimensions[d].score for c in (pref, acc, bad))
        assert None not in (p, a, b), f"{scenario.id} ({how}): {d} not assessed"
        assert p > b, f"{scenario.id} ({how}): {d}: preferred {p} <= unacceptable {b}"
        assert p >= a >= b, f"{scenario.id} ({how}): {d} not ordered: {p} / {a} / {b}"


@pytest.mark.parametrize("case", _cases_with_conflicts(), ids=lambda p: p.stem)
def test_preferred_outscores_acceptable_outscores_unacceptable(case: Path, team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "judge-cache.sqlite"))
    scenario = load_scenario(case)
    paths = {policy: _run(scenario, team, policy, tmp_path / policy) for policy in POLICIES}

    rules = {policy: score_transcript(path) for policy, path in paths.items()}
    _check_order(scenario, rules, "rules")
    # the preferred council resolves every conflict with a preferred option and trips no red flag
    assert [c.verdict for c in rules["preferred"].conflicts] == ["preferred"] * len(scenario.conflicts)
    assert rules["preferred"].red_flags_hit == [], f"{scenario.id}: a preferred resolution trips a red flag"

    if scenario.rubric:
        judged = {policy: score_transcript(path, judge="scripted/preferred", complete=gateway_complete) for policy, path in paths.items()}
        _check_order(scenario, judged, "scripted judge")
        assert all(i.graded for c in judged.values() for i in c.items if i.kind == "rubric")


def test_library_has_cases_with_conflicts() -> None:
    assert _cases_with_conflicts(), "no library case with conflicts: the validity test checks nothing"
