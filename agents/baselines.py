r"""Baselines on the council's machinery: what one model does without the discussion.

    START --(protocol solo)--> solo_answer -> END
          \--(protocol self_consistency)--> sample_answer x N (one Send each, concurrent)
                                              -> combine_answers -> END

- `solo`: the team's chair (a clinician, in agents/teams/solo.yaml) reads the case and writes the
  resolution directly, in the same format and under the same disclosure level as a council's chair.
- `self_consistency`: N independent solo answers (team `limits.samples`, 9 by default: the model
  calls of the default council, 4 members x 2 rounds + the resolution), each with its own seed,
  each recorded as an `answer` event. Under disclosure `options` they are combined by majority per
  conflict (a tie goes to the option chosen first), and the recommendation is that of the answer
  agreeing with the majority on most conflicts (the earliest such answer). Under disclosure `none`
  there are no ids to vote on and no judge at run time (the judge belongs to the scorer): the
  answer kept is the medoid, the one whose words overlap most with all the others (mean Jaccard
  similarity of content words) -- the free-text form of "the answer most agree with".
"""

from __future__ import annotations

import re
from collections import Counter
from typing import Any, TypedDict

from langgraph.runtime import Runtime
from langgraph.types import Send

from agents.deliberation import RunContext, Structured, _check_choices, _scripted_context, call_structured, resolution_record, strip_conflict_ids
from agents.prompting import build_solo_messages
from agents.schemas import Choice, Resolution
from scenarios.model import NO_OPTION
from transcripts.events import AnswerSampled, Usage

SAMPLE_SEED_STRIDE = 1009  # seeds of the N answers: seed, seed + 1009, seed + 2018, ...


class SampleTask(TypedDict):
    index: int


def route_start(state: Any, runtime: Runtime[RunContext]) -> Any:
    team = runtime.context.team
    if team.protocol == "solo":
        return "solo_answer"
    return [Send("sample_answer", SampleTask(index=i)) for i in range(1, team.limits.samples + 1)]


async def _answer(ctx: RunContext, index: int) -> Structured:
    chair = ctx.team.chair
    messages = build_solo_messages(ctx.scenario, ctx.team, ctx.personas.get(chair.role, ""), disclosure=ctx.disclosure, case=ctx.case_text)
    seed = ctx.seed + SAMPLE_SEED_STRIDE * (index - 1)
    context = {**_scripted_context(ctx, chair.role, 1, [], set()), "members": [], "seed": seed, "sample": index}
    return await call_structured(
        ctx, chair.role, "resolution", Resolution, messages, round_no=1, context=context, seed=seed,
        check=strip_conflict_ids if ctx.open_ended else lambda r: _check_choices(r.choices, ctx.scenario),
    )


async def solo_answer(state: Any, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    return {"resolution": resolution_record(ctx, await _answer(ctx, 1))}


async def sample_answer(task: SampleTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    index = task["index"]
    result = await _answer(ctx, index)
    record = resolution_record(ctx, result)
    ctx.record(
        AnswerSampled(
            index=index, member=ctx.team.chair.role, ok=record["ok"], resolution=record["resolution"], raw=result.raw,
            attempts=result.attempts, error=result.error, usage=result.usage,
        )
    )
    return {"samples": [{"index": index, **record}]}


async def combine_answers(state: Any, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    samples = sorted(state.get("samples", []), key=lambda s: s["index"])
    valid = [s for s in samples if s["ok"] and s["resolution"]]
    if not valid:
        errors = "; ".join(f"answer {s['index']}: {s['error']}" for s in samples if s.get("error"))
        return {"resolution": {"ok": False, "resolution": None, "raw": "", "attempts": len(samples),
                               "error": f"no valid answer among {len(samples)}: {errors or 'none returned'}", "usage": Usage().model_dump()}}
    if ctx.open_ended:
        chosen, note = medoid(valid), "the answer whose words overlap most with the others (medoid)"
        resolution = dict(chosen["resolution"])
    else:
        resolution, chosen = majority(ctx, valid)
        note = "majority per conflict; recommendation of the answer agreeing most with it"
    raw = f"self_consistency: {len(valid)}/{len(samples)} valid answers; kept answer {chosen['index']} ({note})"
    return {"resolution": {"ok": True, "resolution": resolution, "raw": raw, "attempts": 1, "error": None,
                           "usage": Usage().model_dump()}}


def majority(ctx: RunContext, valid: list[dict[str, Any]]) -> tuple[dict[str, Any], dict[str, Any]]:
    """(combined resolution, the answer whose recommendation it keeps)."""
    winners: dict[str, Choice] = {}
    for conflict in ctx.scenario.conflicts:
        picks = [c for s in valid for c in s["resolution"]["choices"] if c["conflict"] == conflict.id]
        counts = Counter(c["option"] for c in picks)
        if not counts:
            winners[conflict.id] = Choice(conflict=conflict.id, option=NO_OPTION, rationale="not addressed")
            continue
        top = max(counts.values())
        option = next(c["option"] for c in picks if counts[c["option"]] == top)  # first chosen wins a tie
        rationale = next(c.get("rationale", "") for c in picks if c["option"] == option)
        share = f"{top}/{len(valid)} answers"
        winners[conflict.id] = Choice(conflict=conflict.id, option=option, rationale=f"{rationale} ({share})".strip())

    def agreement(sample: dict[str, Any]) -> int:
        mine = {c["conflict"]: c["option"] for c in sample["resolution"]["choices"]}
        return sum(mine.get(cid) == w.option for cid, w in winners.items())

    best = max(valid, key=lambda s: (agreement(s), -s["index"]))
    resolution = dict(best["resolution"])
    resolution["choices"] = [w.model_dump(mode="json") for w in winners.values()]
    return resolution, best


_WORD = re.compile(r"[a-z0-9]+")


def _words(text: str) -> set[str]:
    return {w for w in _WORD.findall(text.lower()) if len(w) > 2}


def medoid(valid: list[dict[str, Any]]) -> dict[str, Any]:
    """The answer with the highest mean Jaccard similarity (content words) to the other answers."""
    if len(valid) == 1:
        return valid[0]
    bags = [_words(s["resolution"].get("final_recommendation", "")) for s in valid]

    def jaccard(a: set[str], b: set[str]) -> float:
        return len(a & b) / len(a | b) if a | b else 1.0

    def centrality(i: int) -> float:
        return sum(jaccard(bags[i], bags[j]) for j in range(len(bags)) if j != i) / (len(bags) - 1)

    best = max(range(len(valid)), key=lambda i: (centrality(i), -i))
    return valid[best]
