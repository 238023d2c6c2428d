"""Compose a member's turn, the chair's pick of the next speaker, and the resolution from steps.

A turn (see `Turn`), step by step; each step sees only what it needs. First the closed choices, one
after another:
- when the options are disclosed, for each conflict the option the member favours (`choice`: that
  conflict's ids or none; the previous speaker's pick is shown; the options themselves are in the
  case block every step starts with);
- the fact a claim rests on (`claim_fact`: ids of facts this role may see);
- the dimension of a concern (`concern_dimension`: one of the six);
- a stance on the previous speaker's position, when there is one (`reply_stance`: agree / disagree / amend);
- the on-request fact it asks to see, if any are left (`request`: those ids or none).
Then the sentences, which need those choices but not each other, asked together as one sibling
group (agents/providers/siblings.py: the embedded model decodes them as parallel sequences): one
sentence why for each favoured option (`rationale`), the position on the decision (`position`),
what the team should do next (`recommendation`), what the cited fact means (`claim`), the concern
(`concern`), and why the member agrees, disagrees or would amend (`reply`, the position quoted).

The resolution: for each conflict (when disclosed) the team's option (`chair_choice`, with the
members' latest picks counted); then, together, one sentence why for each (`chair_rationale`), the
final recommendation (`final`), what remains uncertain (`uncertainty`), who signs off (`sign_off`)
and the diagnosis for diagnostic cases (`diagnosis`). Dissent is drawn from the members' own latest
stances: a member whose latest pick for a conflict differs from the team's, with that member's own
sentence for it. Trade-offs are the dimensions the members' concerns named.

With the options not disclosed (`disclosure: none`), the per-conflict steps do not exist and no
conflict title, option id or option text enters any prompt; everything else works the same.
"""

from __future__ import annotations

import asyncio
from dataclasses import dataclass
from typing import Any

from pydantic import BaseModel, ValidationError

from agents.providers.siblings import gather_siblings
from agents.schemas import RESOLVE, ChairDecision, Choice, Claim, Concern, Dissent, ReplyTo, Resolution, Turn
from agents.stepwise.prompts import STEPS_DIR, case_prefix, fill, member_block, persona_brief, quote
from agents.stepwise.steps import NONE, Speaker, normalise
from agents.stepwise.text import case_words, turn_texts, words_of
from scenarios.model import DIMENSIONS, NO_OPTION, Scenario
from transcripts.events import TurnTaken, Usage

STANCES = ["agree", "disagree", "amend"]
POSITION_ASK = {
    False: "In one sentence of your own, in the first person, state your position on the decision.",
    True: "Having heard the others, say in one new sentence whether you keep or change your position, and why.",
}
RECOMMENDATION_ASK = {
    False: "In one sentence, say what the team should do next.",
    True: "In one sentence, say what must happen first, before anything else.",
}
_STANCE_WORDS = {"agree": "agree", "disagree": "disagree", "amend": "would amend it"}


@dataclass
class Outcome:
    """What `agents.deliberation` reads from a structured call: the same fields as its `Structured`."""

    value: BaseModel | None
    raw: str
    attempts: int
    usage: Usage
    error: str | None


def options_disclosed(ctx: Any) -> bool:
    """Whether prompts may show the conflicts and their options (the `disclosure` setting, when the
    team or run has one; today's behaviour, `options`, otherwise)."""
    for source in (getattr(ctx, "disclosure", None), getattr(ctx.team, "disclosure", None)):
        if isinstance(source, str):
            return source != "none"
    return True


_WORDS: dict[int, tuple[Any, frozenset[str]]] = {}


def _case_words(scenario: Scenario) -> frozenset[str]:
    hit = _WORDS.get(id(scenario))
    if hit is None or hit[0] is not scenario:
        if len(_WORDS) > 64:
            _WORDS.clear()
        hit = (scenario, case_words(scenario))
        _WORDS[id(scenario)] = hit
    return hit[1]


_INSTRUCTIONS: str | None = None


def _team_words(team: Any) -> frozenset[str]:
    """The council's role names count as words (a member may name another: "the ethicist")."""
    return frozenset(words_of(" ".join(f"{m.label} {m.role.replace('_', ' ')}" for m in [*team.members, team.chair])))


def _instructions() -> str:
    """The fixed words of every step template (placeholders dropped), normalised."""
    global _INSTRUCTIONS
    if _INSTRUCTIONS is None:
        import re

        texts = [re.sub(r"\$\w+", " | ", path.read_text(encoding="utf-8")) for path in sorted(STEPS_DIR.glob("*.md")) if path.stem != "case"]
        _INSTRUCTIONS = " | ".join(normalise(t) for t in texts) + " | " + " | ".join(normalise(a) for a in [*POSITION_ASK.values(), *RECOMMENDATION_ASK.values()])
    return _INSTRUCTIONS


def speaker(ctx: Any, role: str, revealed: set[str], context: dict[str, Any], round_no: int = 1, turns: list[dict[str, Any]] | None = None) -> Speaker:
    member = ctx.team.member(role)
    assert member is not None
    persona = ctx.personas.get(role, "")
    prefix = case_prefix(ctx.scenario, options_disclosed(ctx)) + member_block(ctx.scenario, role, member.label, persona, revealed)
    seen = {normalise(text) for record in turns or [] for text in turn_texts(record.get("turn"))}
    return Speaker(
        ctx=ctx, role=role, prefix=prefix, context=context, words=_case_words(ctx.scenario) | _team_words(ctx.team),
        # A later round samples afresh: the same prompt and seed would repeat the member's words.
        seed_offset=100 * (round_no - 1), seen=seen, echo=normalise(f"You are the {member.label}. {persona_brief(persona)}") + " | " + _instructions(),
    )


def _label(ctx: Any, role: str) -> str:
    member = ctx.team.member(role)
    return member.label if member else role.replace("_", " ")


def _previous(turns: list[dict[str, Any]], role: str) -> dict[str, Any] | None:
    """The last valid turn of another member, if the last turn was another member's."""
    if not turns or turns[-1]["member"] == role or not turns[-1].get("turn"):
        return None
    return turns[-1]


def _latest_by_member(turns: list[dict[str, Any]]) -> dict[str, dict[str, Any]]:
    latest: dict[str, dict[str, Any]] = {}
    for record in turns:
        if record.get("turn"):
            latest[record["member"]] = record["turn"]
    return latest


def _finish(sp: Speaker, model: type[BaseModel], data: dict[str, Any], missing: str | None) -> Outcome:
    if missing:
        return Outcome(None, sp.raw(), sp.attempts, sp.usage, f"{missing}: no usable reply after {2} attempts")
    try:
        value = model.model_validate(data)
    except ValidationError as exc:  # pragma: no cover - the steps only produce valid parts
        return Outcome(None, sp.raw(), sp.attempts, sp.usage, str(exc).splitlines()[0])
    return Outcome(value, sp.raw(), sp.attempts, sp.usage, None)


async def take_turn(ctx: Any, role: str, round_no: int, turns: list[dict[str, Any]], revealed: set[str], context: dict[str, Any]) -> Outcome:
    sp = speaker(ctx, role, revealed, context, round_no, turns)
    try:
        return await _turn_steps(ctx, sp, role, round_no, turns, revealed)
    except asyncio.CancelledError:
        # Interrupted between steps: record the steps taken and what they cost, then stop.
        ctx.record(TurnTaken(
            round=round_no, member=role, ok=False, turn=None, raw=sp.raw(), attempts=sp.attempts,
            error="interrupted during the turn's steps", usage=sp.usage,
        ))
        raise


async def _turn_steps(ctx: Any, sp: Speaker, role: str, round_no: int, turns: list[dict[str, Any]], revealed: set[str]) -> Outcome:
    scenario = ctx.scenario
    previous = _previous(turns, role)
    own_last = _latest_by_member(turns).get(role, {})
    prev_turn = previous["turn"] if previous else {}
    prev_label = _label(ctx, previous["member"]) if previous else ""

    # First the closed choices, one after another (each a short ranked call on a local model) ...
    picks: list[tuple[Any, str, str]] = []  # (conflict, option, what the previous speaker favours)
    if options_disclosed(ctx):
        prev_choices = {c.get("conflict"): c.get("option") for c in prev_turn.get("choices", [])}
        for conflict in scenario.conflicts:
            shown = prev_choices.get(conflict.id)
            hint = f"The {prev_label} favours: {shown}." if shown and shown != NO_OPTION else ""
            body = fill("choice", conflict_id=conflict.id, conflict_title=conflict.title, previous=hint)
            option = await sp.choose("choice", body, [o.id for o in conflict.options] + [NONE], conflict=conflict.id) or NO_OPTION
            picks.append((conflict, option, shown or ""))

    visible = {f.id: f.text for f in scenario.facts_visible_to(role, revealed)}
    cited = {fid for claim in own_last.get("claims", []) for fid in claim.get("facts", [])}
    visible = {fid: text for fid, text in visible.items() if fid not in cited} or visible  # a fact not cited before, if any
    fact_id = None
    if visible:
        fact_list = "\n".join(f"- {fid}" for fid in visible)
        fact_id = await sp.choose("claim_fact", fill("claim_fact", fact_list=fact_list), list(visible))

    member = ctx.team.member(role)
    # The dimensions this member champions, and those the case's conflicts touch when disclosed.
    order = list(dict.fromkeys([*(member.champions if member else []), *(scenario.dimensions() if options_disclosed(ctx) else [])])) or list(DIMENSIONS)
    raised = {c.get("dimension") for c in own_last.get("concerns", [])}
    order = [d for d in order if d not in raised] or order  # a dimension not raised before, if any
    dimension = await sp.choose("concern_dimension", fill("concern_dimension", dimensions=", ".join(order)), order)

    stance = None
    said = quote(prev_turn.get("position", ""), 160)
    if previous is not None and prev_turn.get("position"):
        stance = await sp.choose("reply_stance", fill("reply_stance", speaker_label=prev_label, speaker_text=said), STANCES, speaker=previous["member"])

    requested: list[str] = []
    requestable = [fid for fid in scenario.on_request_ids() if fid not in revealed]
    if requestable:
        asked = await sp.choose("request", fill("request", requestable=", ".join(requestable)), [*requestable, NONE])
        if asked and asked != NONE:
            requested.append(asked)

    # ... then the sentences, which need only those choices and not each other: asked together, so
    # a provider may serve them at once (the embedded model decodes them as parallel sequences).
    favoured: list[str] = []
    sentences: list[Any] = []
    for conflict, option, shown in picks:
        chosen = conflict.option(option)
        if chosen is None:
            continue
        favoured.append(f"On {conflict.id} you favour {option}.")
        others = ""
        if shown and shown != NO_OPTION:
            others = f"The {prev_label} favours it too." if shown == option else f"The {prev_label} favours {shown} instead."
        body = fill("rationale", conflict_id=conflict.id, option_text=quote(chosen.text, 120), others=others)
        sentences.append(sp.sentence("rationale", body, conflict=conflict.id, option=option))
    later = bool(own_last)  # a later round asks a different question, so the member does not repeat its first turn
    sentences.append(sp.sentence("position", fill("position", previous="\n".join(favoured), ask=POSITION_ASK[later])))
    sentences.append(sp.sentence("recommendation", fill("recommendation", ask=RECOMMENDATION_ASK[later])))
    if fact_id is not None:
        sentences.append(sp.sentence("claim", fill("claim", fact_id=fact_id, fact_text=quote(visible[fact_id], 120)), fact=fact_id))
    if dimension is not None:
        sentences.append(sp.sentence("concern", fill("concern", dimension=dimension), dimension=dimension))
    if stance is not None:
        sentences.append(sp.sentence("reply", fill("reply", speaker_label=prev_label, speaker_text=said, stance=_STANCE_WORDS[stance]), speaker=previous["member"], stance=stance))  # type: ignore[index]
    texts = iter(await gather_siblings(sentences))

    choices: list[Choice] = []
    for conflict, option, _ in picks:
        rationale = (next(texts) or "") if conflict.option(option) is not None else ""
        choices.append(Choice(conflict=conflict.id, option=option, rationale=rationale))
    position, recommendation = next(texts), next(texts)
    # A required field whose step failed twice falls back to the member's own words from another
    # step, or to a quotation of the option it favours; never to text made up here.
    own = [c.rationale for c in choices if c.rationale]
    quoted = [scenario.conflict(c.conflict).option(c.option).text for c in choices if c.option != NO_OPTION]  # type: ignore[union-attr]
    position = position or next(iter(own), None) or next(iter(quoted), None)
    recommendation = recommendation or next(iter(quoted), None) or position

    claims: list[Claim] = []
    if fact_id is not None:
        text = next(texts)
        if text:
            claims.append(Claim(text=text, facts=[fact_id]))
    concerns: list[Concern] = []
    if dimension is not None:
        text = next(texts)
        if text:
            conflict_id = next((c.id for c in scenario.conflicts if dimension in c.dimensions), None) if options_disclosed(ctx) else None
            concerns.append(Concern(dimension=dimension, text=text, conflict=conflict_id))  # type: ignore[arg-type]
    replies: list[ReplyTo] = []
    if stance is not None:
        reason = next(texts)
        if reason:
            replies.append(ReplyTo(member=previous["member"], stance=stance, reason=reason))  # type: ignore[arg-type,index]

    data = {
        "position": position, "recommendation": recommendation, "claims": claims, "concerns": concerns,
        "replies": replies, "choices": choices, "requested_facts": requested,
    }
    return _finish(sp, Turn, data, None if position and recommendation else "position")


async def take_resolution(ctx: Any, turns: list[dict[str, Any]], revealed: set[str], context: dict[str, Any]) -> Outcome:
    scenario, chair = ctx.scenario, ctx.team.chair
    sp = speaker(ctx, chair.role, revealed, context)
    latest = _latest_by_member(turns)

    choices: list[Choice] = []
    team_picks: list[tuple[Any, str]] = []
    chosen_lines: list[str] = []
    dissent: list[Dissent] = []
    if options_disclosed(ctx):
        for conflict in scenario.conflicts:
            picks = [t_choice for t in latest.values() for t_choice in t.get("choices", []) if t_choice.get("conflict") == conflict.id]
            counts: dict[str, int] = {}
            for pick in picks:
                counts[pick.get("option", NO_OPTION)] = counts.get(pick.get("option", NO_OPTION), 0) + 1
            tally = ", ".join(f"{oid} ({n})" for oid, n in sorted(counts.items(), key=lambda kv: -kv[1])) or "no one has said"
            body = fill("chair_choice", conflict_id=conflict.id, conflict_title=conflict.title, tally=tally)
            option = await sp.choose("chair_choice", body, [o.id for o in conflict.options] + [NONE], conflict=conflict.id) or NO_OPTION
            team_picks.append((conflict, option))
            picked = conflict.option(option)
            if picked is not None:
                chosen_lines.append(f'The team chose: "{quote(picked.text, 160)}"')
            for role, turn in latest.items():
                mine = next((c for c in turn.get("choices", []) if c.get("conflict") == conflict.id), None)
                if mine and mine.get("option") not in (None, NO_OPTION, option) and not any(d.member == role for d in dissent):
                    words = mine.get("rationale") or turn.get("position") or ""
                    if words:  # the member's own sentence, quoted
                        dissent.append(Dissent(member=role, text=words))

    said = [f"- {_label(ctx, role)}: {quote(t.get('position', ''), 160)}" for role, t in latest.items() if t.get("position")]
    chosen_text = "\n".join(chosen_lines + (["The members said:", *said[-4:]] if said else []))
    # The sentences need only the team's choices, not each other: asked together (see take_turn).
    sentences: list[Any] = []
    for conflict, option in team_picks:
        picked = conflict.option(option)
        if picked is not None:
            sentences.append(sp.sentence("chair_rationale", fill("chair_rationale", option_text=quote(picked.text, 160)), conflict=conflict.id, option=option))
    sentences += [sp.sentence("final", fill("final", chosen=chosen_text)), sp.sentence("uncertainty", fill("uncertainty")), sp.sentence("sign_off", fill("sign_off"))]
    if scenario.ground_truth:
        sentences.append(sp.short("diagnosis", fill("diagnosis")))
    texts = iter(await gather_siblings(sentences))
    for conflict, option in team_picks:
        rationale = (next(texts) or "") if conflict.option(option) is not None else ""
        choices.append(Choice(conflict=conflict.id, option=option, rationale=rationale))
    final, uncertainty, sign_off = next(texts), next(texts) or "", next(texts) or ""
    diagnosis = next(texts) if scenario.ground_truth else None
    quoted = [scenario.conflict(c.conflict).option(c.option).text for c in choices if c.option != NO_OPTION]  # type: ignore[union-attr]
    final = final or (" ".join(quoted) if quoted else None)

    tradeoffs: list[str] = []
    for turn in latest.values():
        for concern in turn.get("concerns", []):
            dim = concern.get("dimension")
            if dim in DIMENSIONS and dim not in tradeoffs:
                tradeoffs.append(dim)
    data = {
        "final_recommendation": final, "choices": choices, "tradeoffs": tradeoffs[:3], "dissent": dissent,
        "uncertainty": uncertainty, "sign_off": sign_off, "diagnosis": diagnosis,
    }
    return _finish(sp, Resolution, data, None if final else "final")


async def take_chair_decision(ctx: Any, turns: list[dict[str, Any]], counts: dict[str, int], open_concerns: list[str], revealed: set[str], context: dict[str, Any]) -> Outcome:
    team, chair = ctx.team, ctx.team.chair
    sp = speaker(ctx, chair.role, revealed, context)
    members = team.member_ids()
    body = fill(
        "next_speaker", turn_counts=", ".join(f"{k}: {v}" for k, v in counts.items()),
        open_concerns="; ".join(open_concerns) or "none", members=", ".join(members),
    )
    nxt = await sp.choose("next_speaker", body, [*members, RESOLVE])
    if nxt is None:
        return _finish(sp, ChairDecision, {}, "next_speaker")
    reason = ""
    if nxt != RESOLVE:
        reason = await sp.sentence("next_reason", fill("next_reason", speaker_label=_label(ctx, nxt)), speaker=nxt) or ""
    return _finish(sp, ChairDecision, {"next_speaker": nxt, "reason": reason, "call_vote": False}, None)
