"""Rubric grading by a judge model, HealthBench-style: one call per criterion per sample.

Each call asks whether one criterion is met and must return `{"reason": str, "met": bool}`
(schema-constrained where the provider supports it). With N samples the criterion's outcome is
the majority; a tie, or no parseable sample, leaves it ungraded. A reply that cannot be parsed is
retried once; if it still cannot be parsed the sample is ungraded, never "not met". Calls are cached
by content (cache.py).

The scorer never reaches up for a model: the caller injects the call (`complete=`), e.g.
`agents.judging.gateway_complete`, which sends it through the model gateway. The deterministic
judge behind `--judge scripted/<policy>` lives with the scripted provider
(`agents.providers.scripted_judge`).
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from scenarios.model import RubricCriterion
from transcripts.events import Usage
from transcripts.json_text import json_candidates
from transcripts.scoring.cache import JudgeCache, cache_key
from transcripts.scoring.run_view import RunView
from transcripts.scoring.scorecard import ScoreItem

JUDGE_SCHEMA: dict[str, Any] = {
    "type": "object",
    "properties": {"reason": {"type": "string", "maxLength": 600}, "met": {"type": "boolean"}},
    "required": ["reason", "met"],
    "additionalProperties": False,
}
JUDGE_MAX_TOKENS = 300
JUDGE_TIMEOUT_S = 120.0
SAMPLE_TEMPERATURE = 0.7  # with several samples; a single sample is taken at temperature 0
RETRY_SEED_OFFSET = 7919
MAX_TURNS_SHOWN = 24
MAX_FIELD_CHARS = 600

SYSTEM_PROMPT = """You grade the deliberation of a clinical team against ONE rubric criterion.
Read the case, the discussion and the team's resolution, then decide whether the criterion is met.
For a criterion with negative points, "met" means the team DID the undesirable thing.
Judge only what is written; do not give credit for what the team might have meant.
Reply with a JSON object and nothing else: {"reason": "<one or two sentences>", "met": true|false}"""


class Judgement(BaseModel):
    model_config = ConfigDict(extra="ignore")
    reason: str = Field(default="", description="Why the judge decided so.")
    met: bool = Field(description="Whether the criterion is met.")


@dataclass
class JudgeRequest:
    """One judge call, independent of the gateway's types (tests can answer it directly)."""

    model: str
    messages: list[dict[str, str]]
    temperature: float
    seed: int
    context: dict[str, Any]
    schema: dict[str, Any] = field(default_factory=lambda: JUDGE_SCHEMA)
    max_tokens: int = JUDGE_MAX_TOKENS
    timeout_s: float = JUDGE_TIMEOUT_S


class JudgeCallFailed(Exception):
    """The gateway gave up on a call (timeout, rate limit, auth ...): the sample is ungraded."""


class JudgeUnavailable(RuntimeError):
    """No judge call succeeded at all (no gateway, bad model name, no key): nothing worth recording."""


Complete = Callable[[JudgeRequest], Awaitable[tuple[str, Usage]]]


async def _no_model_call(request: JudgeRequest) -> tuple[str, Usage]:
    raise JudgeUnavailable(
        f"no model call was given to the scorer for judge {request.model!r} "
        "(callers pass complete=agents.judging.gateway_complete, or their own)"
    )


def parse_judgement(text: str) -> Judgement | None:
    """The first JSON object in `text` as a Judgement, or None. Tolerates code fences and chatter."""
    for candidate in json_candidates(text):
        try:
            data = json.loads(candidate)
        except ValueError:
            continue
        if not isinstance(data, dict):
            continue
        if "met" not in data and "criteria_met" in data:  # HealthBench's own field name
            data["met"] = data["criteria_met"]
        if isinstance(data.get("met"), str) and data["met"].strip().lower() in ("true", "false"):
            data["met"] = data["met"].strip().lower() == "true"
        if not isinstance(data.get("met"), bool):
            continue
        if "reason" not in data and "explanation" in data:
            data["reason"] = data["explanation"]
        try:
            return Judgement.model_validate(data)
        except ValidationError:
            continue
    return None


# -- prompts --------------------------------------------------------------------------------------
def _clip(text: str, limit: int = MAX_FIELD_CHARS) -> str:
    text = " ".join(str(text).split())
    return text if len(text) <= limit else text[: limit - 1] + "…"


def deliberation_text(view: RunView) -> str:
    """The case, the discussion and the resolution, as the judge reads them."""
    s = view.scenario
    lines = [f"CASE: {s.title}", _clip(s.presentation, 2000), "", "FACTS:"]
    lines += [f"- {f.id}: {_clip(f.text)}" for f in s.facts]
    lines += ["", f"QUESTION: {s.question}", "", "DISCUSSION:"]
    shown = view.turns[-MAX_TURNS_SHOWN:]
    if len(view.turns) > len(shown):
        lines.append(f"({len(view.turns) - len(shown)} earlier turns omitted)")
    for mt in shown:
        lines.append(f"[round {mt.round}] {mt.member}: {_clip(mt.turn.position)} Recommends: {_clip(mt.turn.recommendation)}")
    lines += ["", "RESOLUTION:"]
    r = view.resolution
    if r is None:
        lines.append(f"(none: {view.resolution_error})")
    else:
        lines.append(f"Final recommendation: {_clip(r.final_recommendation, 2000)}")
        for choice in r.choices:
            conflict = s.conflict(choice.conflict)
            option = conflict.option(choice.option) if conflict else None
            what = option.text if option else choice.option
            lines.append(f"- {choice.conflict}: {_clip(what)} Rationale: {_clip(choice.rationale)}")
        if r.diagnosis:
            lines.append(f"Diagnosis: {_clip(r.diagnosis)}")
        if r.dissent:
            lines.append("Dissent: " + "; ".join(f"{d.member}: {_clip(d.text)}" for d in r.dissent))
        if r.uncertainty:
            lines.append(f"Uncertainty: {_clip(r.uncertainty)}")
        if r.sign_off:
            lines.append(f"Sign-off: {_clip(r.sign_off)}")
    return "\n".join(lines)


def rubric_messages(case_text: str, criterion: RubricCriterion) -> list[dict[str, str]]:
    user = f"{case_text}\n\nCRITERION ({criterion.points:+d} points): {criterion.criterion}\n\nIs this criterion met?"
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def diagnosis_messages(expected: str, given: str) -> list[dict[str, str]]:
    user = (
        f"Expected diagnosis: {expected}\nThe team's diagnosis: {given}\n\n"
        "Is the team's diagnosis the same condition as the expected one (synonyms and added detail are fine; "
        "a different or less specific condition is not)? \"met\" = same condition."
    )
    return [{"role": "system", "content": SYSTEM_PROMPT}, {"role": "user", "content": user}]


def _verdicts(view: RunView) -> tuple[dict[str, str], dict[str, str]]:
    chosen = view.resolution.chosen() if view.resolution is not None else {}
    verdicts = {}
    for cid, oid in chosen.items():
        conflict = view.scenario.conflict(cid)
        option = conflict.option(oid) if conflict else None
        if option is not None:
            verdicts[cid] = option.verdict
    return chosen, verdicts


# -- the judge ------------------------------------------------------------------------------------
@dataclass
class SampleResult:
    judgement: Judgement | None
    error: str | None
    usage: Usage
    cached: bool


@dataclass
class RubricResult:
    items: list[ScoreItem]
    agreement: float | None
    ungraded: int


class Judge:
    """Grades rubric criteria (and, when asked, diagnoses) with `model`, `samples` times each."""

    def __init__(
        self,
        model: str,
        samples: int = 1,
        *,
        cache: JudgeCache | None = None,
        complete: Complete | None = None,
        concurrency: int = 8,
        timeout_s: float = JUDGE_TIMEOUT_S,
    ) -> None:
        if samples < 1:
            raise ValueError("judge samples must be at least 1")
        self.model = model
        self.samples = samples
        self.cache = cache
        self._complete = complete or _no_model_call
        self._limit = asyncio.Semaphore(concurrency)
        self.timeout_s = timeout_s
        self.usage = Usage(model=model)
        self.calls = 0
        self.cache_hits = 0
        self.failures: list[str] = []

    @property
    def temperature(self) -> float:
        return 0.0 if self.samples == 1 else SAMPLE_TEMPERATURE

    async def _sample(
        self,
        messages: list[dict[str, str]],
        context: dict[str, Any],
        sample: int,
        *,
        parse: Callable[[str], Any] = parse_judgement,
        schema: dict[str, Any] | None = None,
    ) -> SampleResult:
        """One sample (cached by content). `parse` turns the reply text into the judgement (None =
        unparseable); the default is a rubric judgement, the conflict mapping passes its own."""
        prompt = json.dumps(messages, ensure_ascii=False)
        key = cache_key(self.model, prompt, sample, self.temperature)
        if self.cache is not None:
            hit = self.cache.get(key)
            if hit is not None:
                judgement = parse(hit[0])
                if judgement is not None:
                    self.cache_hits += 1
                    return SampleResult(judgement, None, Usage.model_validate({**hit[1], "cached": True}), True)
        usage = Usage(model=self.model)
        error: str | None = None
        for attempt in range(2):  # an unparseable reply is retried once
            request = JudgeRequest(
                model=self.model,
                messages=messages,
                temperature=self.temperature,
                seed=sample + attempt * RETRY_SEED_OFFSET,
                context={**context, "sample": sample, "attempt": attempt},
                timeout_s=self.timeout_s,
                **({"schema": schema} if schema is not None else {}),
            )
            try:
                async with self._limit:
                    text, call_usage = await self._complete(request)
            except JudgeCallFailed as exc:
                self.failures.append(str(exc))
                return SampleResult(None, f"judge call failed ({exc})", usage, False)
            self.calls += 1
            usage = usage + call_usage
            judgement = parse(text)
            if judgement is not None:
                if self.cache is not None:
                    self.cache.put(key, self.model, text, call_usage.model_dump(mode="json"))
                return SampleResult(judgement, None, usage, False)
            error = f"judge reply could not be parsed: {_clip(text, 120)!r}"
        return SampleResult(None, error, usage, False)

    def check_available(self) -> None:
        """Raise JudgeUnavailable when every call failed and none was answered or cached."""
        if self.failures and self.calls == 0 and self.cache_hits == 0:
            raise JudgeUnavailable(f"judge {self.model} answered no call: {self.failures[0]}")

    def _spend(self, results: list[SampleResult]) -> None:
        for r in results:
            if not r.cached:
                self.usage = self.usage + r.usage

    async def grade_rubric(self, view: RunView, judged: dict[str, tuple[str, str]] | None = None) -> RubricResult:
        """`judged`: conflict id -> (option id, verdict) from the judge's reading of a free-text
        resolution (disclosure `none`), used where the resolution itself picks no option ids."""
        case_text = deliberation_text(view)
        chosen, verdicts = _verdicts(view)
        if judged:
            chosen = {**{c: o for c, (o, _v) in judged.items()}, **chosen}
            verdicts = {**{c: v for c, (_o, v) in judged.items()}, **verdicts}
        base_context = {
            "task": "rubric",
            "scenario": view.scenario.model_dump(mode="json"),
            "chosen": chosen,
            "verdicts": verdicts,
            "final_recommendation": view.resolution.final_recommendation if view.resolution else None,
        }

        async def one(criterion: RubricCriterion) -> list[SampleResult]:
            messages = rubric_messages(case_text, criterion)
            context = {**base_context, "criterion": criterion.model_dump(mode="json")}
            return list(await asyncio.gather(*(self._sample(messages, context, i) for i in range(self.samples))))

        per_criterion = await asyncio.gather(*(one(c) for c in view.scenario.rubric))
        items: list[ScoreItem] = []
        agreements: list[float] = []
        ungraded = 0
        for criterion, results in zip(view.scenario.rubric, per_criterion):
            self._spend(results)
            item, agreement = _rubric_item(criterion, results, self.samples)
            if agreement is not None:
                agreements.append(agreement)
            if not item.graded:
                ungraded += 1
            items.append(item)
        agreement = sum(agreements) / len(agreements) if (agreements and self.samples > 1) else None
        return RubricResult(items=items, agreement=round(agreement, 4) if agreement is not None else None, ungraded=ungraded)

    async def same_diagnosis(self, expected: str, given: str) -> tuple[bool | None, str]:
        messages = diagnosis_messages(expected, given)
        context = {"task": "diagnosis", "expected": expected, "given": given}
        results = list(await asyncio.gather(*(self._sample(messages, context, i) for i in range(self.samples))))
        self._spend(results)
        votes = [r.judgement.met for r in results if r.judgement is not None]
        if not votes or votes.count(True) == votes.count(False):
            return None, "judge could not decide: " + "; ".join(r.error or "split vote" for r in results)
        met = votes.count(True) > votes.count(False)
        reason = next(r.judgement.reason for r in results if r.judgement is not None and r.judgement.met == met)
        return met, reason


def _rubric_item(criterion: RubricCriterion, results: list[SampleResult], samples: int) -> tuple[ScoreItem, float | None]:
    votes = [r.judgement for r in results if r.judgement is not None]
    met_n = sum(1 for v in votes if v.met)
    not_n = len(votes) - met_n
    positive = criterion.points > 0
    base = dict(
        id=f"rubric:{criterion.id}",
        kind="rubric",
        label=f"{criterion.id} ({criterion.points:+d}) {criterion.criterion}",
        dimensions=[criterion.dimension],
    )
    if not votes or met_n == not_n:
        why = "; ".join(r.error for r in results if r.error) or f"judge samples split {met_n}-{not_n}"
        item = ScoreItem(**base, earned=0.0, possible=0.0, outcome="ungraded", reason=why, graded=False)
        return item, (max(met_n, not_n) / len(votes) if len(votes) > 1 else None)
    met = met_n > not_n
    reason = next(v.reason for v in votes if v.met == met)
    if samples > 1:
        lost = len(results) - len(votes)
        reason = f"{reason} ({max(met_n, not_n)}/{len(votes)} graded samples agree" + (f"; {lost} ungraded)" if lost else ")")
    points = float(criterion.points)
    item = ScoreItem(
        **base,
        earned=points if met else 0.0,
        possible=points if positive else 0.0,
        outcome="met" if met else "not met",
        reason=reason,
    )
    return item, (max(met_n, not_n) / len(votes) if len(votes) > 1 else None)
