"""Validity under disclosure `none`: the council sees no options and writes free text; the scripted
judge maps the text back to the conflicts' options from the words alone. On every library case with
conflicts, preferred-policy runs must outscore acceptable-policy runs, which score at least as high
as unacceptable-policy runs, overall and on every dimension the conflicts touch (mirrors
tests/test_scoring_validity.py). Without a judge the same runs' conflict items are "not assessed".
"""

from __future__ import annotations

from pathlib import Path

import pytest

from scenarios.loader import library_dir, load_scenario
from scenarios.model import Scenario
from transcripts.scoring import score_transcript
from transcripts.scoring.scorecard import Scorecard


from agents.runner import RunSpec, run_sync
from agents.judging import gateway_complete
from agents.team_loader import find_team, load_team, team_snapshot

POLICIES = ("preferred", "acceptable", "unacceptable")
JUDGE = "scripted/preferred"  # the judge's policy plays no part in its conflict mapping


def _cases_with_conflicts() -> list[Path]:
    return [p for p in sorted(library_dir().glob("*.yaml")) if load_scenario(p).conflicts]


@pytest.fixture(scope="module")
def team():
    path = find_team("default")
    t = load_team(path)
    return t, team_snapshot(t, path)


def _check_order(scenario: Scenario, cards: dict[str, Scorecard]) -> None:
    pref, acc, bad = cards["preferred"], cards["acceptable"], cards["unacceptable"]
    assert pref.overall > bad.overall, f"{scenario.id}: preferred {pref.overall} <= unacceptable {bad.overall}"
    assert pref.overall >= acc.overall >= bad.overall, f"{scenario.id}: overall {pref.overall} / {acc.overall} / {bad.overall}"
    for d in scenario.dimensions():
        p, a, b = (c.dimensions[d].score for c in (pref, acc, bad))
        assert None not in (p, a, b), f"{scenario.id}: {d} not assessed"
        assert p > b, f"{scenario.id}: {d}: preferred {p} <= unacceptable {b}"
        assert p >= a >= b, f"{scenario.id}: {d} not ordered: {p} / {a} / {b}"


@pytest.mark.parametrize("case", _cases_with_conflicts(), ids=lambda p: p.stem)
def test_none_mode_validity_with_the_scripted_judge(case: Path, team, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "judge-cache.sqlite"))
    scenario = load_scenario(case)
    t, snapshot = team
    paths = {}
    for policy in POLICIES:
        spec = RunSpec(scenario=scenario, team=t, team_snapshot=snapshot, model=f"scripted/{policy}", out_dir=tmp_path / policy, disclosure="none")
        result = run_sync(spec)
        assert result.status in ("completed", "limit_reached"), f"{scenario.id} {policy}: {result.status}"
        paths[policy] = result.path
    judged = {policy: score_transcript(path, judge=JUDGE, record=False, complete=gateway_complete) for policy, path in paths.items()}
    _check_order(scenario, judged)
    # the judge read every preferred recommendation as the preferred options, from the words alone
    pref = judged["preferred"]
    assert [c.verdict for c in pref.conflicts] == ["preferred"] * len(scenario.conflicts), [(c.id, c.option) for c in pref.conflicts]
    assert all(c.judged and c.quote for c in pref.conflicts)
    assert all(c.raised for c in pref.conflicts), "the members' concerns, in their own words, raise every conflict"
    assert pref.red_flags_hit == []
    # with no judge, the conflicts are not assessed: never 0, never full marks
    rules_only = score_transcript(paths["unacceptable"], record=False)
    items = [i for i in rules_only.items if i.kind == "conflict"]
    assert items and all(not i.graded and i.outcome == "not assessed" for i in items)
    assert all(not c.assessed for c in rules_only.conflicts)
