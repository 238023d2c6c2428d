r"""The council as LangGraph graphs, for all three protocols (and the baselines, agents/baselines.py).

    START -> deliberate -> END     (`round_robin`, a graph of its own: every turn, then the resolution, in one step)

    START --(route)--> member_turn (one Send per speaker; all of a round at once for `parallel`)
          \--> chair_moderate --(route)--> member_turn | resolve              (`moderated`)
    member_turn --(route)--> chair_moderate | resolve                 (`moderated`: one speaker per step)
                \--> advance --(route)--> member_turn | resolve       (`parallel`: join the round)
    resolve -> END

State holds only what nodes produce (turns, revealed facts, the resolution); per-run settings
(scenario, team, models, the transcript sink) travel as LangGraph context. Every key written by
more than one concurrent task has a reducer. Events are written as they happen, from the nodes.
"""

from __future__ import annotations

import operator
from collections.abc import Callable
from typing import Annotated, Any, TypedDict

from langgraph.graph import END, START, StateGraph
from langgraph.runtime import Runtime
from langgraph.types import Send
from pydantic import BaseModel, ValidationError

from agents.gateway import ModelCall, ModelCallError, acomplete
from agents import telemetry
from agents.reply_errors import is_json_error as _is_json_error, short_error as _short_error
from agents.model_specs import AuthenticationFailed
from agents.prompting import (
    build_chair_decision_messages,
    build_resolution_messages,
    build_turn_messages,
    retry_messages,
)
from agents.run_context import RunContext, Structured
from agents.schemas import RESOLVE, ChairDecision, Choice, Resolution, Turn
from agents import stepwise
from agents.team import Team
from scenarios.model import NO_OPTION, Scenario
from transcripts.events import ChairDecided, FactRevealed, ModelErrored, TurnTaken, Usage
from transcripts.json_text import extract_json


def _merge_unique(left: list[str], right: list[str]) -> list[str]:
    return left + [x for x in right if x not in left]


class CouncilState(TypedDict, total=False):
    round: int  # written by `advance`, or by `member_turn` when only one member speaks per step
    turns: Annotated[list[dict[str, Any]], operator.add]  # concurrent member turns append here
    revealed: Annotated[list[str], _merge_unique]  # on-request facts revealed so far
    next_speaker: str | None  # written by `chair_moderate` only
    resolution: dict[str, Any] | None  # written by `resolve` only (or a baseline's answer node)
    limit_hit: bool  # written with `round`
    samples: Annotated[list[dict[str, Any]], operator.add]  # self_consistency: concurrent answers append here


class TurnTask(TypedDict):
    """What one member's turn needs: sent with `Send`, so parallel members see the same snapshot."""

    member: str
    round: int
    turns: list[dict[str, Any]]
    revealed: list[str]


_extract_json = extract_json  # models wrap JSON in prose or ``` fences (transcripts.json_text)


def strip_conflict_ids(value: BaseModel) -> None:
    """Disclosure `none`: a reply may not pick options or tag conflicts (it was shown none); drop
    whatever a model volunteered so that only the judge decides what the text amounts to."""
    if hasattr(value, "choices"):
        value.choices = []
    for concern in getattr(value, "concerns", []) or []:
        concern.conflict = None


def _check_choices(choices: list[Choice], scenario: Scenario) -> None:
    seen = [c.conflict for c in choices]
    twice = sorted({c for c in seen if seen.count(c) > 1})
    if twice:
        raise ValueError(f"choices: conflict {', '.join(twice)} chosen more than once; give one option per conflict")
    for choice in choices:
        conflict = scenario.conflict(choice.conflict)
        if conflict is None:
            raise ValueError(f"choices: unknown conflict id {choice.conflict!r}")
        if choice.option != NO_OPTION and conflict.option(choice.option) is None:
            valid = ", ".join(o.id for o in conflict.options)
            raise ValueError(f"choices: {choice.option!r} is not an option of {conflict.id} (options: {valid}, or none)")


async def call_structured(
    ctx: RunContext,
    role: str,
    kind: str,
    model_cls: type[BaseModel],
    messages: list[dict[str, str]],
    *,
    round_no: int,
    context: dict[str, Any],
    check: Callable[[Any], None] | None = None,
    seed: int | None = None,
) -> Structured:
    """Call the role's model for one reply; retry with the error shown when it does not validate."""
    with telemetry.member_span(role, kind, round_no) as span:  # the agent invocation (agents/telemetry.py)
        out = await _call_structured(ctx, role, kind, model_cls, messages, round_no=round_no, context=context, check=check, seed=seed)
        span.set("grandrounds.attempts", out.attempts)
        span.set("grandrounds.ok", out.value is not None)
        span.set("gen_ai.usage.input_tokens", out.usage.prompt_tokens)
        span.set("gen_ai.usage.output_tokens", out.usage.completion_tokens)
        if out.value is None:
            span.fail("invalid_reply", out.error or "no valid reply")
        return out


async def _call_structured(
    ctx: RunContext,
    role: str,
    kind: str,
    model_cls: type[BaseModel],
    messages: list[dict[str, str]],
    *,
    round_no: int,
    context: dict[str, Any],
    check: Callable[[Any], None] | None = None,
    seed: int | None = None,
) -> Structured:
    team = ctx.team
    member = team.member(role)
    assert member is not None
    attempts_allowed = team.limits.retries + 1
    usage = Usage(model=ctx.models[role])
    raw, error = "", None
    for attempt in range(1, attempts_allowed + 1):
        will_retry = attempt < attempts_allowed
        call = ModelCall(
            model=ctx.models[role],
            messages=messages,
            kind=kind,
            schema=ctx.schemas[kind],
            temperature=team.temperature_for(member),
            max_tokens=team.sampling.max_tokens,
            top_p=team.sampling.top_p,
            seed=(ctx.seed if seed is None else seed) + attempt - 1,
            timeout_s=team.limits.timeout_s,
            context={**context, "attempt": attempt},
        )
        try:
            reply = await acomplete(call)
        except ModelCallError as exc:
            error = f"{exc.kind}: {exc}"
            if exc.kind == "auth":  # every further call would be refused too: end the run now
                ctx.record(ModelErrored(member=role, purpose=kind, attempt=attempt, error_type=exc.kind, message=str(exc), will_retry=False))
                ctx.add_usage(role, usage)
                raise AuthenticationFailed(f"the provider refused the credentials for {call.model}: {exc}") from None
            ctx.record(ModelErrored(member=role, purpose=kind, attempt=attempt, error_type=exc.kind, message=str(exc), will_retry=will_retry))
            continue
        usage = usage + reply.usage
        raw = reply.text
        try:
            value = model_cls.model_validate_json(_extract_json(raw))
            if check is not None:
                check(value)
        except (ValidationError, ValueError) as exc:
            error_type = "invalid_json" if _is_json_error(exc) else "validation"
            error = _short_error(exc)
            ctx.record(ModelErrored(member=role, purpose=kind, attempt=attempt, error_type=error_type, message=error, will_retry=will_retry, raw=raw[:2000]))
            messages = retry_messages(messages, raw, error)
            continue
        ctx.add_usage(role, usage)
        return Structured(value, raw, attempt, usage, None)
    ctx.add_usage(role, usage)
    return Structured(None, raw, attempts_allowed, usage, error)


# -- nodes ---------------------------------------------------------------------------------------


def _spoken_in_round(turns: list[dict[str, Any]], round_no: int) -> list[str]:
    return [t["member"] for t in turns if t["round"] == round_no]


def _progress(ctx: RunContext, turns: list[dict[str, Any]], round_no: int) -> dict[str, Any]:
    """The round after these turns (the next one once everyone has spoken), and whether the turn
    budget ran out with rounds still to go."""
    team = ctx.team
    if team.protocol == "moderated":
        round_no = len(turns) // len(team.members) + 1
    elif set(_spoken_in_round(turns, round_no)) >= set(team.member_ids()):
        round_no += 1
    budget_left = team.limits.max_turns - len(turns)
    return {"round": round_no, "limit_hit": budget_left <= 0 and round_no <= ctx.team.rounds_for(ctx.turn_style)}


async def advance(state: CouncilState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """Join the fan-out of a `parallel` round. (Other protocols advance inside
    `member_turn`, which saves a superstep per turn. Async, like the routers: LangGraph runs sync
    functions in a thread pool, a hop per step.)"""
    return _progress(runtime.context, state.get("turns", []), state.get("round", 1))


async def route_start(state: CouncilState, runtime: Runtime[RunContext]) -> Any:
    if runtime.context.team.is_baseline:
        from agents import baselines

        return baselines.route_start(state, runtime)
    return await route_after_advance(state, runtime)


async def route_after_advance(state: CouncilState, runtime: Runtime[RunContext]) -> Any:
    team = runtime.context.team
    round_no = state["round"]
    turns = state.get("turns", [])
    if round_no > team.rounds_for(runtime.context.turn_style) or state.get("limit_hit"):
        return "resolve"
    if team.protocol == "moderated":
        return "chair_moderate"
    spoken = _spoken_in_round(turns, round_no)
    waiting = [m for m in team.member_ids() if m not in spoken]
    budget_left = team.limits.max_turns - len(turns)
    if team.protocol == "parallel":
        return [_task(s, round_no, state) for s in waiting[:budget_left]]
    return "take_turns"


def _task(member: str, round_no: int, state: CouncilState) -> Send:
    payload: TurnTask = {
        "member": member,
        "round": round_no,
        "turns": list(state.get("turns", [])),
        "revealed": list(state.get("revealed", [])),
    }
    return Send("member_turn", payload)


async def member_turn(task: TurnTask, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """One member's turn (`parallel` fans these out; `moderated` sends the chair's pick here)."""
    ctx = runtime.context
    record, newly_revealed = await _take_turn(ctx, task)
    update: dict[str, Any] = {"turns": [record], "revealed": newly_revealed}
    if ctx.team.protocol != "parallel":  # one speaker per step: this turn can move the round on itself
        update.update(_progress(ctx, [*task["turns"], record], task["round"]))
    return update


async def take_turns(state: CouncilState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """`round_robin`: the members in order, round after round, until the rounds or the turn budget
    run out, in one step. Each member sees the turns and facts revealed before it, exactly as when
    every turn was a step of its own; LangGraph's cost per step was most of a turn's CPU with a fast
    model, and a round robin has no branch for the graph to take between turns."""
    ctx = runtime.context
    team = ctx.team
    round_no, limit_hit = state["round"], bool(state.get("limit_hit"))
    turns, revealed = list(state.get("turns", [])), list(state.get("revealed", []))
    taken: list[dict[str, Any]] = []
    while round_no <= team.rounds_for(ctx.turn_style) and not limit_hit:  # route_after_advance's test for `resolve`
        spoken = _spoken_in_round(turns, round_no)
        waiting = [m for m in team.member_ids() if m not in spoken]
        if not waiting:  # pragma: no cover - _progress moves the round on once everyone has spoken
            break
        record, newly_revealed = await _take_turn(ctx, {"member": waiting[0], "round": round_no, "turns": turns, "revealed": revealed})
        turns, revealed = [*turns, record], _merge_unique(revealed, newly_revealed)
        taken.append(record)
        progress = _progress(ctx, turns, round_no)
        round_no, limit_hit = progress["round"], progress["limit_hit"]
    return {"turns": taken, "revealed": revealed[len(state.get("revealed", [])):], "round": round_no, "limit_hit": limit_hit}


async def _take_turn(ctx: RunContext, task: TurnTask) -> tuple[dict[str, Any], list[str]]:
    """A member's turn, recorded: (the turn's record for the state, the facts it newly revealed)."""
    scenario, team = ctx.scenario, ctx.team
    role, round_no = task["member"], task["round"]
    member = team.member(role)
    assert member is not None
    revealed = set(task["revealed"])
    context = _scripted_context(ctx, role, round_no, task["turns"], revealed)
    if ctx.turn_style == "stepwise":
        with telemetry.outcome_span(role, "turn", round_no) as done:
            result: Structured | stepwise.Outcome = done(await stepwise.take_turn(ctx, role, round_no, task["turns"], revealed, context))
    else:
        messages = build_turn_messages(
            scenario, team, member, ctx.personas.get(role, ""), round_no=round_no, turns=task["turns"], revealed=revealed,
            disclosure=ctx.disclosure, case=ctx.case_text,
        )
        result = await call_structured(
            ctx, role, "turn", Turn, messages, round_no=round_no, context=context,
            check=strip_conflict_ids if ctx.open_ended else lambda t: _check_choices(t.choices, scenario),
        )
    turn = result.value.model_dump(mode="json") if result.value is not None else None
    ctx.record(
        TurnTaken(  # the validated Turn itself: validating its dump again would give the same Turn
            round=round_no, member=role, ok=turn is not None, turn=result.value, raw=result.raw,
            attempts=result.attempts, error=result.error, usage=result.usage,
        )
    )
    newly_revealed: list[str] = []
    if turn is not None:
        for fid in turn.get("requested_facts", []):
            fact = scenario.fact(fid)
            if fact is None or fact.visibility != "on_request" or fid in revealed or fid in newly_revealed:
                continue
            newly_revealed.append(fid)
            ctx.record(FactRevealed(round=round_no, fact_id=fid, requested_by=role, text=fact.text))
    return {"member": role, "round": round_no, "ok": turn is not None, "turn": turn}, newly_revealed


async def route_after_turn(state: CouncilState, runtime: Runtime[RunContext]) -> Any:
    if runtime.context.team.protocol == "parallel":
        return "advance"  # wait for every member of the round
    return await route_after_advance(state, runtime)


def _scripted_context(ctx: RunContext, role: str, round_no: int, turns: list[dict[str, Any]], revealed: set[str]) -> dict[str, Any]:
    counts = {m: 0 for m in ctx.team.member_ids()}
    for t in turns:
        counts[t["member"]] = counts.get(t["member"], 0) + 1
    return {
        "scenario": ctx.scenario_json,
        "member": role,
        "round": round_no,
        "members": ctx.team.member_ids(),
        "revealed": sorted(revealed),
        "turn_counts": counts,
        "previous_speaker": turns[-1]["member"] if turns else None,
        "max_rounds": ctx.team.rounds_for(ctx.turn_style),
        "seed": ctx.seed,
        "disclosure": ctx.disclosure,
    }


def _open_concerns(turns: list[dict[str, Any]]) -> list[str]:
    seen: list[str] = []
    for t in turns:
        for concern in (t.get("turn") or {}).get("concerns", []):
            label = f"{concern.get('conflict') or concern.get('dimension')}: {concern.get('text', '')[:80]}"
            if label not in seen:
                seen.append(label)
    return seen[-6:]


async def chair_moderate(state: CouncilState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    team, chair = ctx.team, ctx.team.chair
    turns = state.get("turns", [])
    counts = {m: 0 for m in team.member_ids()}
    for t in turns:
        counts[t["member"]] = counts.get(t["member"], 0) + 1
    context = _scripted_context(ctx, chair.role, state["round"], turns, set(state.get("revealed", [])))
    if ctx.turn_style == "stepwise":
        with telemetry.outcome_span(chair.role, "chair_decision", state["round"]) as done:
            result: Structured | stepwise.Outcome = done(await stepwise.take_chair_decision(
                ctx, turns, counts, _open_concerns(turns), set(state.get("revealed", [])), context
            ))
    else:
        messages = build_chair_decision_messages(
            ctx.scenario, team, ctx.personas.get(chair.role, ""), turns=turns, turn_counts=counts,
            open_concerns=_open_concerns(turns), disclosure=ctx.disclosure, case=ctx.case_text,
        )
        result = await call_structured(ctx, chair.role, "chair_decision", ChairDecision, messages, round_no=state["round"], context=context)
    if result.value is not None:
        decision: ChairDecision = result.value  # type: ignore[assignment]
        speaker = decision.next_speaker
        reason, vote = decision.reason, decision.call_vote
    else:
        # The chair failed to decide: fall back to the member who has spoken least, and say so.
        speaker = min(team.member_ids(), key=lambda m: counts.get(m, 0))
        reason, vote = f"fallback after invalid chair reply: {result.error}", False
    if speaker != RESOLVE and speaker not in team.member_ids():
        speaker = min(team.member_ids(), key=lambda m: counts.get(m, 0))
    ctx.record(ChairDecided(round=state["round"], next_speaker=speaker, reason=reason, call_vote=vote, usage=result.usage))
    return {"next_speaker": speaker}


async def route_after_chair(state: CouncilState, runtime: Runtime[RunContext]) -> Any:
    speaker = state.get("next_speaker")
    if speaker in (None, RESOLVE):
        return "resolve"
    return _task(speaker, state["round"], state)


async def resolve(state: CouncilState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    ctx = runtime.context
    scenario, team, chair = ctx.scenario, ctx.team, ctx.team.chair
    turns = state.get("turns", [])
    revealed = set(state.get("revealed", []))
    context = _scripted_context(ctx, chair.role, state.get("round", 1), turns, revealed)
    if ctx.turn_style == "stepwise":
        with telemetry.outcome_span(chair.role, "resolution", state.get("round", 1)) as done:
            result: Structured | stepwise.Outcome = done(await stepwise.take_resolution(ctx, turns, revealed, context))
    else:
        messages = build_resolution_messages(
            scenario, team, ctx.personas.get(chair.role, ""), turns=turns, revealed=revealed, disclosure=ctx.disclosure,
            case=ctx.case_text,
        )
        result = await call_structured(
            ctx, chair.role, "resolution", Resolution, messages, round_no=state.get("round", 1), context=context,
            check=strip_conflict_ids if ctx.open_ended else lambda r: _check_choices(r.choices, scenario),
        )
    return {"resolution": resolution_record(ctx, result)}


def resolution_record(ctx: RunContext, result: Any) -> dict[str, Any]:
    """What `resolve` (or a baseline's answer node) leaves in the state for the runner to record."""
    scenario = ctx.scenario
    resolution = None
    if result.value is not None and ctx.open_ended:
        resolution = result.value.model_dump(mode="json")
    elif result.value is not None:
        value: Resolution = result.value  # type: ignore[assignment]
        # One choice per conflict, in scenario order; a conflict the chair skipped is recorded as 'none'.
        given = {c.conflict: c for c in value.choices}
        value.choices = [
            given.get(conflict.id) or Choice(conflict=conflict.id, option=NO_OPTION, rationale="not addressed")
            for conflict in scenario.conflicts
        ]
        resolution = value.model_dump(mode="json")
    return {
        "ok": resolution is not None,
        "resolution": resolution,
        "raw": result.raw,
        "attempts": result.attempts,
        "error": result.error,
        "usage": result.usage.model_dump(),
    }


async def deliberate(state: CouncilState, runtime: Runtime[RunContext]) -> dict[str, Any]:
    """`round_robin` in one step: `take_turns`, then `resolve` on the state those turns leave (what
    the reducers would have made of it: the turns appended, the facts merged). A step of its own for
    the resolution cost as much CPU as two fast turns."""
    update = await take_turns(state, runtime)
    after: CouncilState = {
        **state,  # type: ignore[typeddict-item]
        "round": update["round"], "limit_hit": update["limit_hit"],
        "turns": [*state.get("turns", []), *update["turns"]],
        "revealed": _merge_unique(list(state.get("revealed", [])), update["revealed"]),
    }
    return {**update, **await resolve(after, runtime)}


def build_graph(protocol: str | None = None) -> Any:
    """The graph for a protocol: `round_robin` has a straight one of a single step (its turns, then
    the resolution: nothing to route, and every step and router LangGraph runs costs CPU); the others
    share the general one (routed from START). None: the general graph."""
    graph = StateGraph(CouncilState, context_schema=RunContext)
    if protocol == "round_robin":
        graph.add_node("deliberate", deliberate)
        graph.add_edge(START, "deliberate")
        graph.add_edge("deliberate", END)
        return graph.compile()
    from agents import baselines  # its nodes use this module's call machinery

    graph.add_node("advance", advance)
    graph.add_node("member_turn", member_turn)
    graph.add_node("take_turns", take_turns)
    graph.add_node("chair_moderate", chair_moderate)
    graph.add_node("resolve", resolve)
    graph.add_node("solo_answer", baselines.solo_answer)
    graph.add_node("sample_answer", baselines.sample_answer)
    graph.add_node("combine_answers", baselines.combine_answers)
    graph.add_conditional_edges(
        START, route_start, ["member_turn", "take_turns", "chair_moderate", "resolve", "solo_answer", "sample_answer"]
    )
    graph.add_edge("solo_answer", END)
    graph.add_edge("sample_answer", "combine_answers")
    graph.add_edge("combine_answers", END)
    graph.add_conditional_edges("advance", route_after_advance, ["member_turn", "take_turns", "chair_moderate", "resolve"])
    graph.add_conditional_edges("member_turn", route_after_turn, ["advance", "member_turn", "take_turns", "chair_moderate", "resolve"])
    graph.add_edge("take_turns", "resolve")
    graph.add_conditional_edges("chair_moderate", route_after_chair, ["member_turn", "resolve"])
    graph.add_edge("resolve", END)
    return graph.compile()


_COMPILED: dict[bool, Any] = {}


def council_graph(protocol: str | None = None) -> Any:
    """The compiled graph for a protocol; compiled once per process (it holds no run state)."""
    straight = protocol == "round_robin"
    if straight not in _COMPILED:
        _COMPILED[straight] = build_graph("round_robin" if straight else None)
    return _COMPILED[straight]


def recursion_limit(team: Team) -> int:
    """Supersteps the graph may take: a turn (+ the chair's pick when moderated, + a join when parallel)."""
    per_turn = 2
    return team.limits.max_turns * per_turn + team.limits.max_rounds * 2 + 10
