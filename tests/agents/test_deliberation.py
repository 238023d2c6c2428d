"""The council graph end to end on the scripted model: protocols, visibility, retries, limits, cancel."""

from __future__ import annotations

import asyncio
import json

import pytest

import builders
from agents.prompting import build_turn_messages
from agents.runner import RunSpec, arun, run_sync
from transcripts.store import read_transcript


def _spec(tmp_path, protocol="round_robin", model="scripted/preferred", seed=0, scenario=None, **limits):
    team = builders.team(protocol, **limits)
    return RunSpec(
        scenario=scenario or builders.scenario(), team=team, team_snapshot=builders.snapshot(team),
        model=model, seed=seed, out_dir=tmp_path,
    )


def _types(transcript):
    return [e.type for e in transcript.events]


def test_round_robin_records_every_turn_in_order_and_resolves(tmp_path):
    result = run_sync(_spec(tmp_path))
    t = read_transcript(result.path)
    assert result.status == "completed"
    assert t.problems == []
    assert _types(t)[0] == "run_started" and _types(t)[-1] == "run_ended"
    speakers = [(e.round, e.member) for e in t.turns]
    assert speakers == [(r, m) for r in (1, 2) for m in builders.ROLES]
    res = t.resolution.resolution
    # preferred policy: the chair picks the preferred option for every conflict, in scenario order
    assert [(c["conflict"], c["option"]) for c in res["choices"]] == [("C1", "explore-then-disclose"), ("C2", "ask-consent")]
    assert t.ended.status == "completed" and t.ended.turns == 8


def test_unacceptable_policy_picks_unacceptable_options(tmp_path):
    result = run_sync(_spec(tmp_path, model="scripted/unacceptable"))
    res = read_transcript(result.path).resolution.resolution
    assert {c["option"] for c in res["choices"]} == {"withhold", "email-daughter"}


def test_parallel_members_answer_from_the_same_snapshot(tmp_path):
    result = run_sync(_spec(tmp_path, protocol="parallel"))
    t = read_transcript(result.path)
    assert result.status == "completed"
    rounds = [e.round for e in t.turns]
    assert rounds == sorted(rounds) and rounds.count(1) == 4 and rounds.count(2) == 4
    # nobody in round 1 can reply to someone who spoke in round 1: they all answered independently
    assert all(not (e.turn or {}).get("replies") for e in t.turns if e.round == 1)


def test_moderated_chair_picks_speakers_within_the_turn_budget(tmp_path):
    result = run_sync(_spec(tmp_path, protocol="moderated", max_turns=6))
    t = read_transcript(result.path)
    decisions = [e for e in t.events if e.type == "chair_decision"]
    assert decisions, "the chair must choose speakers under the moderated protocol"
    assert len(t.turns) <= 6
    assert [d.next_speaker for d in decisions if d.next_speaker != "resolve"] == [e.member for e in t.turns]
    assert t.resolution is not None and t.resolution.ok


def test_turn_budget_ends_with_limit_reached(tmp_path):
    result = run_sync(_spec(tmp_path, max_turns=3))
    t = read_transcript(result.path)
    assert result.status == "limit_reached"
    assert len(t.turns) == 3
    assert t.resolution.ok, "the chair still resolves when the budget runs out"


def test_fact_visibility_by_role():
    scenario, team = builders.scenario(), builders.team()
    advocate = team.member("patient_advocate")
    critic = team.member("safety_critic")
    seen_by_advocate = build_turn_messages(scenario, team, advocate, "", round_no=1, turns=[], revealed=set())[0]["content"]
    seen_by_critic = build_turn_messages(scenario, team, critic, "", round_no=1, turns=[], revealed=set())[0]["content"]
    assert "F4: She once said" in seen_by_advocate and "F4: She once said" not in seen_by_critic
    assert "F3: Bilirubin" not in seen_by_critic, "on-request facts stay hidden until asked for"
    revealed = build_turn_messages(scenario, team, critic, "", round_no=2, turns=[], revealed={"F3"})[0]["content"]
    assert "F3: Bilirubin" in revealed


def test_requested_fact_is_revealed_once_and_recorded(tmp_path):
    t = read_transcript(run_sync(_spec(tmp_path)).path)
    reveals = [e for e in t.events if e.type == "fact_revealed"]
    assert [(r.fact_id, r.requested_by) for r in reveals] == [("F3", "diagnostician")]
    first_turn_seq = t.turns[0].seq
    assert reveals[0].seq == first_turn_seq + 1


def test_invalid_replies_are_retried_then_recorded_as_failed_turns(tmp_path):
    result = run_sync(_spec(tmp_path, model="scripted/preferred?malformed_rate=1.0", retries=1))
    t = read_transcript(result.path)
    assert result.status == "failed"
    assert len(t.turns) == 8 and all(not e.ok and e.attempts == 2 for e in t.turns)
    errors = [e for e in t.events if e.type == "model_error"]
    assert {e.error_type for e in errors} == {"invalid_json"}
    assert [e.will_retry for e in errors[:2]] == [True, False]
    assert t.problems == []


def test_some_bad_replies_do_not_stop_the_run(tmp_path):
    result = run_sync(_spec(tmp_path, model="scripted/preferred?malformed_rate=0.3&fail_seed=7", retries=2))
    t = read_transcript(result.path)
    assert any(e.attempts > 1 for e in t.turns), "with a 30% failure rate some turn needed a retry"
    assert result.status in ("completed", "failed")
    assert len(t.turns) == 8


def test_same_inputs_give_the_same_run_id(tmp_path):
    assert _spec(tmp_path).run_id == _spec(tmp_path).run_id
    assert _spec(tmp_path).run_id != _spec(tmp_path, seed=1).run_id
    assert _spec(tmp_path).run_id != _spec(tmp_path, model="scripted/unacceptable").run_id


def test_cancel_leaves_a_valid_interrupted_transcript(tmp_path):
    spec = _spec(tmp_path, model="scripted/preferred?latency=0.05")

    async def go():
        cancel = asyncio.Event()
        seen = []

        def on_event(event):
            seen.append(event.type)
            if event.type == "turn":
                cancel.set()

        with pytest.raises(asyncio.CancelledError):
            await arun(spec, on_event=on_event, cancel=cancel)
        return seen

    asyncio.run(go())
    t = read_transcript(spec.path)
    assert t.problems == []
    assert t.status == "interrupted"
    assert 1 <= len(t.turns) < 8


def test_diagnostic_case_without_conflicts_runs(tmp_path):
    scenario = builders.scenario(conflicts=[], rubric=[], red_flags=[], ground_truth={"diagnosis": "Pancreatic cancer"})
    result = run_sync(_spec(tmp_path, scenario=scenario))
    res = read_transcript(result.path).resolution.resolution
    assert result.status == "completed"
    assert res["choices"] == []
    assert res["diagnosis"] == "Pancreatic cancer"


def test_transcript_embeds_what_makes_the_run_reproducible(tmp_path):
    spec = _spec(tmp_path)
    started = read_transcript(run_sync(spec).path).started
    assert started.scenario_hash == spec.scenario_hash and started.team_hash == spec.team_hash
    assert started.models == {r: "scripted/preferred" for r in (*builders.ROLES, "chair")}
    assert "langgraph" in started.versions and "litellm" in started.versions
    assert started.scenario["id"] == "test-disclosure"
    assert json.dumps(started.team).count("persona") == 5
