"""Disclosure `none`: the judge maps a free-text recommendation to each conflict's options.

The scripted judge reads the words (it is never told the verdicts or the council's policy); the
rules then score its reading like an option id the chair typed.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from scenarios.loader import library_dir, load_scenario
from transcripts.events import Usage
from transcripts.scoring import score_transcript
from transcripts.scoring.conflict_judge import parse_map
from transcripts.scoring.engine import ascore_transcript


from agents.runner import RunSpec, run_sync
from agents.judging import gateway_complete
from agents.team_loader import find_team, load_team, team_snapshot

CASE = "discharge-draft-apixaban-dose"
SIGN = "Sign the AI-drafted discharge summary as written so she can leave before 11 a.m."
RECONCILE = (
    "a pharmacist will reconcile the list and counsel her: apixaban 2.5 mg twice daily as she is over 80 and weighs "
    "under 60 kg, stop enoxaparin, remove the INR instruction and the ibuprofen, all before she leaves."
)
FULL_DOSE = "discharge her on apixaban 5 mg twice daily after removing the enoxaparin line."


@pytest.fixture(scope="module")
def none_run(tmp_path_factory) -> Path:
    path = find_team("default")
    team = load_team(path)
    spec = RunSpec(
        scenario=load_scenario(library_dir() / f"{CASE}.yaml"), team=team, team_snapshot=team_snapshot(team, path),
        model="scripted/acceptable", out_dir=tmp_path_factory.mktemp("none"), disclosure="none",
    )
    return run_sync(spec).path


def _with_recommendation(src: Path, dst: Path, text: str) -> Path:
    """The same transcript with the chair's final recommendation replaced by `text`."""
    lines = []
    for line in src.read_text(encoding="utf-8").splitlines():
        event = json.loads(line)
        if event["type"] == "resolution":
            event["resolution"]["final_recommendation"] = text
        if event["type"] != "score":
            lines.append(json.dumps(event))
    dst.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return dst


def _conflict(card):
    item = next(i for i in card.items if i.id == "conflict:C1")
    return card.conflicts[0], item


def _score(none_run: Path, tmp_path: Path, text: str, monkeypatch):
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "cache.sqlite"))
    path = _with_recommendation(none_run, tmp_path / "run.jsonl", text)
    return _conflict(score_transcript(path, judge="scripted/unacceptable", record=False, complete=gateway_complete))


def test_naming_an_unacceptable_option_only_to_reject_it(none_run, tmp_path, monkeypatch) -> None:
    outcome, item = _score(none_run, tmp_path, f"{SIGN.removesuffix('.')} is not acceptable. Instead, {RECONCILE}", monkeypatch)
    assert outcome.options == ["reconcile-correct"] and outcome.verdict == "preferred"
    assert item.outcome == "preferred" and item.earned == item.possible == 10 and item.judged
    assert "pharmacist will reconcile" in item.quote and "Sign" not in item.quote
    assert "rejects sign-as-drafted" in item.reason


def test_rejecting_without_choosing_is_not_addressed(none_run, tmp_path, monkeypatch) -> None:
    outcome, item = _score(none_run, tmp_path, f"We will not {SIGN[0].lower()}{SIGN[1:]}", monkeypatch)
    assert outcome.options == [] and not outcome.addressed and outcome.assessed
    assert item.outcome == "not addressed" and item.graded and item.earned == 0 and item.possible == 10
    assert "only rejects sign-as-drafted" in item.reason


def test_a_recommendation_that_addresses_no_conflict(none_run, tmp_path, monkeypatch) -> None:
    outcome, item = _score(none_run, tmp_path, "Keep her comfortable, and review the knee pain in clinic next month.", monkeypatch)
    assert outcome.options == [] and item.outcome == "not addressed" and item.earned == 0 and item.graded


def test_two_options_at_once_score_as_the_worst(none_run, tmp_path, monkeypatch) -> None:
    outcome, item = _score(none_run, tmp_path, f"{SIGN} Also, {RECONCILE}", monkeypatch)
    assert set(outcome.options) == {"sign-as-drafted", "reconcile-correct"}
    assert outcome.verdict == "unacceptable" and item.outcome == "several (unacceptable)" and item.earned == 0
    outcome, item = _score(none_run, tmp_path, f"{SIGN.removesuffix('.')}, and {FULL_DOSE}", monkeypatch)
    assert set(outcome.options) == {"sign-as-drafted", "full-dose-apixaban"}


def test_who_raised_it_is_judged_from_the_concerns_with_the_quote(none_run, tmp_path, monkeypatch) -> None:
    outcome, item = _score(none_run, tmp_path, RECONCILE, monkeypatch)
    assert outcome.raised and outcome.raised_by == "diagnostician" and outcome.raised_round == 1
    assert outcome.raised_quote.startswith("What worries me")
    assert "raised by diagnostician in round 1 (judge)" in item.reason


def test_judge_calls_are_cached_by_content(none_run, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "cache.sqlite"))
    calls = []

    async def complete(request):
        calls.append(request.context["task"])
        from agents.providers.scripted_judge import scripted_judge_reply

        return json.dumps(scripted_judge_reply(request.context)), Usage(model=request.model, prompt_tokens=10)

    path = _with_recommendation(none_run, tmp_path / "run.jsonl", RECONCILE)
    import asyncio

    first = asyncio.run(ascore_transcript(path, "my-judge", record=False, complete=complete))
    n = len(calls)
    assert {"conflict_map", "conflict_raised"} <= set(calls)
    second = asyncio.run(ascore_transcript(path, "my-judge", record=False, complete=complete))
    assert len(calls) == n, "the second scoring was served from the cache"
    assert first.conflicts == second.conflicts


def test_an_unreadable_judge_leaves_the_conflict_ungraded(none_run, tmp_path, monkeypatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_JUDGE_CACHE", str(tmp_path / "cache.sqlite"))

    async def complete(request):
        if request.context["task"] == "conflict_map":
            return '{"options": ["made-up-option"], "quote": ""}', Usage()
        return '{"raised": false, "member": null, "quote": "", "reason": ""}', Usage()

    import asyncio

    card = asyncio.run(ascore_transcript(_with_recommendation(none_run, tmp_path / "r.jsonl", RECONCILE), "bad-judge", record=False, complete=complete))
    _outcome, item = _conflict(card)
    assert item.outcome == "ungraded" and not item.graded and item.possible == 0


def test_parse_map_accepts_not_addressed_and_rejects_unknown_ids() -> None:
    conflict = load_scenario(library_dir() / f"{CASE}.yaml").conflicts[0]
    parse = parse_map(conflict)
    assert parse('{"options": [], "quote": ""}').options == []
    assert parse('{"option": "not addressed"}').options == []
    assert parse('```json\n{"options": ["sign-as-drafted"], "quote": "Sign it"}\n```').options == ["sign-as-drafted"]
    assert parse('{"options": ["C9"]}') is None
    assert parse("no json here") is None
