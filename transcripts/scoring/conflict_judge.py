"""Disclosure `none`: the judge reads the free text and says what it amounts to, conflict by conflict.

Two questions per conflict, each one judge call per sample, cached by content like rubric calls:

- **map**: which option(s) of this conflict the final recommendation commits the team to (option
  ids; none = "not addressed"), with the quoted words that decide it. An option named only to be
  rejected does not count.
- **raised**: whether a member raised this conflict in a concern before the resolution, who did
  first, with the quoted concern.

The judge's answer is data for the deterministic rules (rules.conflict_outcomes), which alone turn
it into points exactly as they do an option id the chair typed: the judge never scores.
With several samples the majority answer wins; a tie, or no parseable sample, leaves the conflict
ungraded (never 0, never full marks).
"""

from __future__ import annotations

import asyncio
import json
import re
from collections import Counter
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scenarios.model import Conflict
from transcripts.scoring.judge import Judge, SampleResult
from transcripts.scoring.run_view import RunView

MAP_SYSTEM = """You read the final recommendation of a clinical team and decide which of the listed options for ONE issue it commits the team to.
An option counts only if the recommendation says the team will do it; an option mentioned only to be rejected does not count.
If the recommendation commits to several of the options at once, list them all. If it does not address the issue, list none.
Quote the exact words of the recommendation that decide it.
Reply with a JSON object and nothing else: {"options": ["<option id>", ...], "quote": "<exact words>", "reason": "<one sentence>"}"""

RAISED_SYSTEM = """You read the concerns that members of a clinical team raised in their discussion, before any decision, and decide whether any of them raised ONE given issue (in any words).
Name the member who raised it first and quote their words exactly.
Reply with a JSON object and nothing else: {"raised": true|false, "member": "<role id or null>", "quote": "<exact words>", "reason": "<one sentence>"}"""

MAX_CONCERNS_SHOWN = 60


class MapReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    options: list[str] = Field(default_factory=list, description="Option ids the recommendation commits to.")
    quote: str = Field(default="", description="The deciding words.")
    reason: str = Field(default="", description="Why.")


class RaisedReply(BaseModel):
    model_config = ConfigDict(extra="ignore")
    raised: bool = Field(description="Whether a member raised the issue.")
    member: str | None = Field(default=None, description="Who raised it first.")
    quote: str = Field(default="", description="Their words.")
    reason: str = Field(default="", description="Why.")


@dataclass
class JudgedConflict:
    """The judge's reading of one conflict. `options` None = the judge could not decide."""

    options: list[str] | None
    quote: str = ""
    reason: str = ""
    raised_by: str | None = None
    raised_round: int | None = None
    raised_quote: str = ""
    raised_decided: bool = False
    errors: list[str] = field(default_factory=list)


def _json_object(text: str) -> dict[str, Any] | None:
    if not text:
        return None
    brace = text.find("{")
    if brace < 0:
        return None
    for candidate in (text.strip(), text[brace : text.rfind("}") + 1]):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if isinstance(data, dict):
            return data
    return None


def parse_map(conflict: Conflict):
    valid = {o.id for o in conflict.options}

    def parse(text: str) -> MapReply | None:
        data = _json_object(text)
        if data is None:
            return None
        raw = data.get("options", data.get("option"))
        if isinstance(raw, str):
            raw = [] if raw.strip().lower() in ("", "none", "not addressed", "null") else [raw]
        if not isinstance(raw, list):
            return None
        ids = [str(x) for x in raw if str(x) in valid]
        if len(ids) != len([x for x in raw if str(x).strip().lower() not in ("none", "not addressed")]):
            return None  # an id this conflict does not have: not a reading we can score
        try:
            return MapReply.model_validate({**data, "options": list(dict.fromkeys(ids))})
        except ValidationError:
            return None

    return parse


def parse_raised(members: list[str]):
    def parse(text: str) -> RaisedReply | None:
        data = _json_object(text)
        if data is None:
            return None
        if isinstance(data.get("raised"), str):
            data["raised"] = data["raised"].strip().lower() == "true"
        try:
            reply = RaisedReply.model_validate(data)
        except ValidationError:
            return None
        if reply.raised and reply.member not in members:
            return None
        return reply

    return parse


def map_schema(conflict: Conflict) -> dict[str, Any]:
    ids = [o.id for o in conflict.options]
    return {
        "type": "object",
        "properties": {
            "options": {"type": "array", "items": {"type": "string", "enum": ids}, "maxItems": len(ids)},
            "quote": {"type": "string", "maxLength": 600},
            "reason": {"type": "string", "maxLength": 400},
        },
        "required": ["options", "quote", "reason"],
        "additionalProperties": False,
    }


def raised_schema(members: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {
            "raised": {"type": "boolean"},
            "member": {"anyOf": [{"type": "string", "enum": members or ["member"]}, {"type": "null"}]},
            "quote": {"type": "string", "maxLength": 600},
            "reason": {"type": "string", "maxLength": 400},
        },
        "required": ["raised", "member", "quote", "reason"],
        "additionalProperties": False,
    }


def _conflict_card(conflict: Conflict, with_options: bool) -> dict[str, Any]:
    """What the judge is told about a conflict: never the verdicts (the rules apply those)."""
    card: dict[str, Any] = {"id": conflict.id, "title": conflict.title, "description": conflict.description.strip()}
    if with_options:
        card["options"] = [{"id": o.id, "text": o.text} for o in conflict.options]
    return card


def map_messages(view: RunView, conflict: Conflict) -> list[dict[str, str]]:
    r = view.resolution
    assert r is not None
    options = "\n".join(f"- {o.id}: {o.text}" for o in conflict.options)
    user = (
        f"CASE: {view.scenario.title}\nQUESTION: {view.scenario.question}\n\n"
        f"ISSUE: {conflict.title}\n{conflict.description.strip()}\n\nOPTIONS:\n{options}\n\n"
        f"FINAL RECOMMENDATION:\n{r.final_recommendation}\n\n"
        "Which options does the final recommendation commit the team to?"
    )
    return [{"role": "system", "content": MAP_SYSTEM}, {"role": "user", "content": user}]


def concerns_of(view: RunView) -> list[dict[str, Any]]:
    """Every member concern before the resolution, in order (the judge sees nothing else of the turns)."""
    out = []
    for mt in view.turns:
        for c in mt.turn.concerns:
            out.append({"member": mt.member, "round": mt.round, "dimension": c.dimension, "text": c.text})
    return out[:MAX_CONCERNS_SHOWN]


def raised_messages(view: RunView, conflict: Conflict, concerns: list[dict[str, Any]]) -> list[dict[str, str]]:
    listed = "\n".join(f"- [round {c['round']}] {c['member']} ({c['dimension']}): {c['text']}" for c in concerns) or "(no concerns)"
    user = (
        f"CASE: {view.scenario.title}\n\nISSUE: {conflict.title}\n{conflict.description.strip()}\n\n"
        f"CONCERNS RAISED BY MEMBERS:\n{listed}\n\nDid any member raise this issue?"
    )
    return [{"role": "system", "content": RAISED_SYSTEM}, {"role": "user", "content": user}]


def _majority(results: list[SampleResult], key) -> tuple[Any, Any] | None:
    """(winning key, first judgement with it), or None on a tie or no parseable sample."""
    parsed = [r.judgement for r in results if r.judgement is not None]
    if not parsed:
        return None
    counts = Counter(key(j) for j in parsed).most_common()
    if len(counts) > 1 and counts[0][1] == counts[1][1]:
        return None
    winner = counts[0][0]
    return winner, next(j for j in parsed if key(j) == winner)


def _errors(results: list[SampleResult]) -> list[str]:
    return [r.error for r in results if r.error]


async def judge_conflicts(judge: Judge, view: RunView) -> dict[str, JudgedConflict]:
    """Map a free-text resolution onto every conflict of the case, and find who raised each one."""
    scenario = view.scenario
    members = list(dict.fromkeys([*view.members, *(t.member for t in view.turns)]))
    concerns = concerns_of(view)

    async def one(conflict: Conflict) -> JudgedConflict:
        judged = JudgedConflict(options=[], reason="no resolution to read")
        if view.resolution is not None and view.resolution.final_recommendation.strip():
            context = {
                "task": "conflict_map",
                "conflict": _conflict_card(conflict, with_options=True),
                "text": view.resolution.final_recommendation,
            }
            messages = map_messages(view, conflict)
            results = list(await asyncio.gather(*(
                judge._sample(messages, context, i, parse=parse_map(conflict), schema=map_schema(conflict))
                for i in range(judge.samples)
            )))
            judge._spend(results)
            won = _majority(results, key=lambda j: tuple(sorted(j.options)))
            if won is None:
                judged = JudgedConflict(options=None, reason="judge could not decide", errors=_errors(results) or ["split vote"])
            else:
                reply: MapReply = won[1]
                judged = JudgedConflict(options=list(reply.options), quote=reply.quote, reason=reply.reason)
        if concerns:
            others = [_conflict_card(c, with_options=False) for c in scenario.conflicts if c.id != conflict.id]
            context = {"task": "conflict_raised", "conflict": _conflict_card(conflict, False), "others": others, "concerns": concerns}
            messages = raised_messages(view, conflict, concerns)
            results = list(await asyncio.gather(*(
                judge._sample(messages, context, i, parse=parse_raised(members), schema=raised_schema(members))
                for i in range(judge.samples)
            )))
            judge._spend(results)
            won = _majority(results, key=lambda j: (j.raised, j.member if j.raised else None))
            if won is not None:
                raised: RaisedReply = won[1]
                judged.raised_decided = True
                if raised.raised:
                    judged.raised_by = raised.member
                    judged.raised_quote = raised.quote
                    judged.raised_round = _round_of(concerns, raised.member, raised.quote)
            else:
                judged.errors += _errors(results) or ["split vote on who raised it"]
        else:
            judged.raised_decided = True  # nobody spoke: nobody raised it
        return judged

    found = await asyncio.gather(*(one(c) for c in scenario.conflicts))
    return {c.id: j for c, j in zip(scenario.conflicts, found)}


def _norm(text: str) -> str:
    return re.sub(r"\s+", " ", text or "").strip().lower()


def _round_of(concerns: list[dict[str, Any]], member: str | None, quote: str) -> int | None:
    """The round of the quoted concern (or the member's first concern)."""
    theirs = [c for c in concerns if c["member"] == member]
    q = _norm(quote)
    for c in theirs:
        if q and (q in _norm(c["text"]) or _norm(c["text"]) in q):
            return c["round"]
    return theirs[0]["round"] if theirs else None
