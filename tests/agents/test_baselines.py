"""The baselines on the council's graph: `solo` (one answer) and `self_consistency` (N answers, majority)."""

from __future__ import annotations

from collections import Counter

import pytest

import builders
from agents import deliberation
from agents.baselines import medoid
from agents.runner import RunSpec, run_sync
from agents.team import Team
from agents.team_loader import find_team, load_team, team_snapshot
from scenarios.loader import library_dir, load_scenario
from transcripts.store import read_transcript

CASE = library_dir() / "discharge-draft-apixaban-dose.yaml"


@pytest.fixture
def calls(monkeypatch: pytest.MonkeyPatch) -> list:
    seen: list = []
    real = deliberation.acomplete

    async def spy(call):
        seen.append(call)
        return await real(call)

    monkeypatch.setattr(deliberation, "acomplete", spy)
    return seen


def _run(tmp_path, team_id: str, model: str, disclosure: str | None = None, seed: int = 0):
    path = find_team(team_id)
    team = load_team(path)
    spec = RunSpec(scenario=load_scenario(CASE), team=team, team_snapshot=team_snapshot(team, path), model=model,
                   out_dir=tmp_path, disclosure=disclosure, seed=seed)
    result = run_sync(spec)
    return result, read_transcript(result.path)


def test_solo_answers_once_without_discussion(tmp_path, calls) -> None:
    result, transcript = _run(tmp_path, "solo", "scripted/preferred")
    assert result.status == "completed"
    assert [c.kind for c in calls] == ["resolution"] and len(calls) == 1
    assert "answering alone" in calls[0].messages[0]["content"]
    assert transcript.started.protocol == "solo"
    assert not [e for e in transcript.events if e.type in ("turn", "chair_decision", "answer")]
    choices = transcript.resolution.resolution["choices"]
    assert [(c["conflict"], c["option"]) for c in choices] == [("C1", "reconcile-correct")]
    assert transcript.ended.usage_by_member.keys() == {"clinician"}


def test_self_consistency_takes_as_many_calls_as_the_default_council(tmp_path, calls) -> None:
    _run(tmp_path / "council", "default", "scripted/preferred")
    council = len(calls)
    calls.clear()
    _run(tmp_path / "sc", "self-consistency", "scripted/preferred")
    assert len(calls) == council == 9
    assert len({c.seed for c in calls}) == 9, "each answer has its own seed"


def test_self_consistency_takes_the_majority_per_conflict(tmp_path) -> None:
    for seed in range(3):
        result, transcript = _run(tmp_path / str(seed), "self-consistency", "scripted/mixed", seed=seed)
        assert result.status == "completed"
        answers = [e for e in transcript.events if e.type == "answer"]
        assert [a.index for a in sorted(answers, key=lambda a: a.index)] == list(range(1, 10))
        picks = [a.resolution["choices"][0]["option"] for a in sorted(answers, key=lambda a: a.index)]
        counts = Counter(picks)
        top = max(counts.values())
        expected = next(p for p in picks if counts[p] == top)
        final = transcript.resolution.resolution
        assert final["choices"][0]["option"] == expected
        assert f"{top}/9 answers" in final["choices"][0]["rationale"]
        # the recommendation kept is that of the first answer that chose the majority option
        first = next(a for a in sorted(answers, key=lambda a: a.index) if a.resolution["choices"][0]["option"] == expected)
        assert final["final_recommendation"] == first.resolution["final_recommendation"]


def test_self_consistency_in_none_mode_keeps_the_medoid_answer(tmp_path) -> None:
    result, transcript = _run(tmp_path, "self-consistency", "scripted/mixed", disclosure="none")
    assert result.status == "completed"
    answers = sorted((e for e in transcript.events if e.type == "answer"), key=lambda a: a.index)
    assert all(a.resolution["choices"] == [] for a in answers)
    valid = [{"index": a.index, "resolution": a.resolution} for a in answers]
    assert transcript.resolution.resolution["final_recommendation"] == medoid(valid)["resolution"]["final_recommendation"]
    assert "medoid" in transcript.resolution.raw


def test_medoid_is_the_answer_most_like_the_others() -> None:
    answers = [
        {"index": 1, "resolution": {"final_recommendation": "sign the draft now"}},
        {"index": 2, "resolution": {"final_recommendation": "reconcile the medication list with the pharmacist"}},
        {"index": 3, "resolution": {"final_recommendation": "reconcile the medication list before discharge"}},
        {"index": 4, "resolution": {"final_recommendation": "the pharmacist should reconcile the medication list today"}},
    ]
    assert medoid(answers)["index"] in (2, 4)
    assert medoid(answers[:1])["index"] == 1


def test_a_baseline_team_has_no_members_and_a_council_needs_some() -> None:
    chair = builders.team().chair
    with pytest.raises(ValueError, match="has no members"):
        Team(id="x", protocol="solo", members=builders.team().members, chair=chair)
    with pytest.raises(ValueError, match="needs at least one member"):
        Team(id="x", protocol="round_robin", chair=chair)
    assert Team(id="x", protocol="self_consistency", chair=chair).is_baseline


def test_every_failed_answer_fails_the_run_with_a_reason(tmp_path) -> None:
    result, transcript = _run(tmp_path, "self-consistency", "scripted/preferred?malformed_rate=1")
    assert result.status == "failed" and "no valid answer among 9" in result.reason
    assert len([e for e in transcript.events if e.type == "answer" and not e.ok]) == 9
