"""Events are read leniently: an older event is migrated, a newer one read as far as understood, an
unknown type kept as an opaque event, and a payload that does not validate set aside, never fatal."""

from __future__ import annotations

import json

import builders
from agents.runner import RunSpec, run_sync
from transcripts import events as ev
from transcripts.events import OpaqueEvent, ResolutionReached, Scored, TurnTaken, parse_event
from transcripts.payloads import Resolution, Turn
from transcripts.scorecard import Scorecard
from transcripts.scoring import score_transcript
from transcripts.store import read_transcript

import pytest


def _run(tmp_path):
    team = builders.team()
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred", out_dir=tmp_path)
    return run_sync(spec).path


def _lines(path):
    return [json.loads(line) for line in path.read_text().splitlines()]


def _write(path, objs):
    path.write_text("".join(json.dumps(o) + "\n" for o in objs))


def test_events_are_typed_down_to_the_leaves(tmp_path):
    t = read_transcript(_run(tmp_path))
    turn = t.turns[0].turn
    assert isinstance(turn, Turn) and turn.position
    assert isinstance(t.resolution.resolution, Resolution) and t.resolution.resolution.chosen()
    score = score_transcript(t.path)
    assert isinstance(read_transcript(t.path).latest_score().scorecard, Scorecard)
    assert read_transcript(t.path).latest_score().scorecard.overall == score.overall
    # mapping-style reads, as when the payloads were dicts
    assert turn["position"] == turn.get("position") == turn.position and turn.get("nope", 1) == 1
    with pytest.raises(KeyError):
        turn["nope"]


def test_an_old_event_is_migrated_to_the_current_version(tmp_path, monkeypatch):
    path = _run(tmp_path)
    objs = _lines(path)
    # pretend the current version is 2 and version 1 named the turn's body `body`
    turns = [o for o in objs if o["type"] == "turn"]
    for o in turns:
        o["body"] = o.pop("turn")
    monkeypatch.setattr(ev, "EVENT_VERSION", 2)
    seen = []

    def v1_to_v2(data):
        seen.append(data["type"])
        if data["type"] == "turn" and "body" in data:
            data["turn"] = data.pop("body")
        return data

    monkeypatch.setitem(ev.MIGRATIONS, 1, v1_to_v2)
    _write(path, objs)
    t = read_transcript(path)
    assert t.problems == []
    assert len(seen) == len(objs), "every v1 event went through the migration step"
    assert all(isinstance(e.turn, Turn) for e in t.turns if e.ok)
    assert all(e.v == 2 for e in t.events)
    # an event without a version is version 1
    assert ev.migrate({"type": "turn"})["v"] == 2


def test_a_newer_event_is_read_as_far_as_understood(tmp_path):
    path = _run(tmp_path)
    objs = _lines(path)
    first_turn = next(i for i, o in enumerate(objs) if o["type"] == "turn")
    objs[first_turn].update(v=ev.EVENT_VERSION + 1, mood="calm")  # a field this version does not know
    ended = next(i for i, o in enumerate(objs) if o["type"] == "run_ended")
    objs[ended].update(v=ev.EVENT_VERSION + 1, status="paused")  # a status this version does not know
    _write(path, objs)
    t = read_transcript(path)
    turn = t.events[first_turn]
    assert isinstance(turn, TurnTaken) and isinstance(turn.turn, Turn)
    assert isinstance(t.events[ended], OpaqueEvent) and t.events[ended].data["status"] == "paused"
    assert len(t.events) == len(objs), "nothing is dropped"
    assert len(t.problems) == 2 and all("newer version" in p for p in t.problems)
    assert f":{first_turn + 1}:" in t.problems[0] and f":{ended + 1}:" in t.problems[1]


def test_an_unknown_event_type_is_kept_as_an_opaque_event(tmp_path):
    path = _run(tmp_path)
    objs = _lines(path)
    objs.insert(2, {"v": 1, "seq": 2, "ts": "2026-01-01T00:00:00.000+00:00", "type": "annotation", "note": "see F3", "by": {"who": "reviewer"}})
    _write(path, objs)
    t = read_transcript(path)
    opaque = t.events[2]
    assert isinstance(opaque, OpaqueEvent) and opaque.type == "annotation"
    assert opaque.data == {"note": "see F3", "by": {"who": "reviewer"}}
    assert json.loads(opaque.model_dump_json()) == objs[2], "every field survives a round trip"
    assert t.status == "completed" and t.resolution.ok
    assert len(t.problems) == 1 and "'annotation'" in t.problems[0] and ":3:" in t.problems[0]
    card = score_transcript(path)  # the rest of the transcript still scores
    assert card.overall is not None


def test_a_payload_that_does_not_validate_is_set_aside_not_fatal(tmp_path):
    path = _run(tmp_path)
    objs = _lines(path)
    i = next(i for i, o in enumerate(objs) if o["type"] == "turn" and o["ok"])
    objs[i]["turn"]["confidence"] = 7  # out of range
    _write(path, objs)
    t = read_transcript(path)
    assert isinstance(t.events[i], TurnTaken) and t.events[i].turn is None
    assert "not a valid Turn" in t.events[i].payload_problem
    assert len(t.problems) == 1 and f":{i + 1}:" in t.problems[0]


def test_parse_event_still_rejects_a_damaged_known_event():
    with pytest.raises(ValueError):
        parse_event({"type": "turn", "v": 1, "round": "x"})
    with pytest.raises(ValueError):
        parse_event({"no": "type"})
    assert isinstance(parse_event({"type": "resolution", "ok": False}), ResolutionReached)
    assert isinstance(parse_event({"type": "score", "scorer_version": "1", "scorecard": {"bad": 1}}), Scored)


def test_an_event_built_in_code_with_an_invalid_payload_still_raises():
    from pydantic import ValidationError

    with pytest.raises(ValidationError):
        TurnTaken(round=1, member="m", ok=True, turn={"position": "p"})  # no recommendation
    assert TurnTaken(round=1, member="m", ok=True, turn={"position": "p", "recommendation": "r"}).turn.recommendation == "r"
