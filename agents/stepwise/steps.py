"""One step: a short model call through the gateway with a tiny JSON schema, checked, resampled once.

A step asks for one thing: an id from a closed list (`choose`: an enum, so a local model's grammar
can only produce a listed id), one sentence (`sentence`: a string with a sentence `pattern`), or a
short name (`short`). The reply is checked in code whatever the provider (see `text.py`); an
unusable reply (not JSON of the schema, too short, not words, stray symbols) is resampled once with
a new seed, and if the second reply is unusable too the step records a `model_error` event
(purpose `step:<name>`) and returns None, so the caller can leave the field out or fall back, and
the run goes on. Code never writes the text of a field: a sentence is the model's, cut at its last
sentence end at most.
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass, field
from typing import Any

from agents.gateway import ModelCall, ModelCallError, acomplete
from agents.providers.siblings import current_group
from agents.stepwise.text import CHECK_MAX_WORDS, SENTENCE_PATTERN, SHORT_PATTERN, Checked, check_sentence, check_short
from transcripts.events import ModelErrored, Usage

ATTEMPTS = 2  # the first reply and one resample
RESAMPLE_TEMPERATURE = 0.7  # a resample samples more freely, so it does not repeat the first reply
MAX_TOKENS = {"choose": 24, "sentence": 48, "short": 24}
# The chair's final recommendation must cover every decision the case needs, in a few sentences: with
# the options not disclosed there is no list of chosen options to fall back on.
LONG_STEPS = {"final": (200, 120)}  # step -> (max tokens, max words)
NONE = "none"


def choose_schema(values: list[str]) -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "enum": list(values)}},
        "required": ["answer"],
        "additionalProperties": False,
    }


def sentence_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"sentence": {"type": "string", "pattern": SENTENCE_PATTERN}},
        "required": ["sentence"],
        "additionalProperties": False,
    }


def short_schema() -> dict[str, Any]:
    return {
        "type": "object",
        "properties": {"answer": {"type": "string", "pattern": SHORT_PATTERN}},
        "required": ["answer"],
        "additionalProperties": False,
    }


@dataclass
class StepRecord:
    """What a step did, kept in the turn's `raw` so a transcript shows every call."""

    step: str
    reply: str
    attempts: int
    seconds: float
    ok: bool

    def as_json(self) -> dict[str, Any]:
        return {"step": self.step, "reply": self.reply[:400], "attempts": self.attempts, "s": round(self.seconds, 3), "ok": self.ok}


@dataclass
class Speaker:
    """One speaker's steps: the run's settings, the prompt prefix, and what the steps cost."""

    ctx: Any  # agents.deliberation.RunContext
    role: str
    prefix: str  # case + member blocks: the shared start of every step prompt of this speaker
    context: dict[str, Any]  # the scripted provider's context for this turn
    words: frozenset[str]  # case words, which count as words
    seed_offset: int = 0
    seen: set[str] = field(default_factory=set)  # earlier turns' fields, normalised: a repeat is unusable
    echo: str = ""  # the persona and the step instructions, normalised: a sentence that opens by copying them is unusable
    usage: Usage = field(default_factory=Usage)
    records: list[StepRecord] = field(default_factory=list)

    @property
    def attempts(self) -> int:
        return max((r.attempts for r in self.records), default=1)

    def raw(self) -> str:
        return json.dumps({"turn_style": "stepwise", "steps": [r.as_json() for r in self.records]}, ensure_ascii=False)

    async def choose(self, step: str, body: str, values: list[str], **detail: Any) -> str | None:
        values = list(dict.fromkeys(values))
        return await self._run(step, body, "choose", choose_schema(values), {"values": values, **detail}, lambda raw: _parse_choice(raw, values))

    async def sentence(self, step: str, body: str, **detail: Any) -> str | None:
        max_words = LONG_STEPS.get(step, (0, CHECK_MAX_WORDS))[1]
        return await self._run(step, body, "sentence", sentence_schema(), detail, lambda raw: self._check_sentence(raw, max_words))

    def _check_sentence(self, raw: str, max_words: int = CHECK_MAX_WORDS) -> Checked:
        checked = check_sentence(_field(raw, "sentence"), self.words, max_words=max_words)
        if checked.text is None:
            return checked
        key = normalise(checked.text)
        if key in self.seen:
            return Checked(None, f"repeats an earlier turn word for word: {checked.text[:60]!r}")
        words = key.split()
        # Copying: it opens with four words of the persona or the instructions, or repeats five words in
        # a row of the persona ("you are a safety critic on a hospital case conference").
        persona = f" {self.echo.split(' | ', 1)[0]} "
        shingles = [" ".join(words[i : i + 5]) for i in range(len(words) - 4)]
        opening = " ".join(words[:4])
        if (len(words) >= 4 and opening in self.echo) or any(f" {g} " in persona for g in shingles):
            return Checked(None, f"copies the instructions or the persona: {checked.text[:60]!r}")
        self.seen.add(key)
        return checked

    async def short(self, step: str, body: str, **detail: Any) -> str | None:
        return await self._run(step, body, "short", short_schema(), detail, lambda raw: check_short(_field(raw, "answer"), self.words))

    async def _run(self, step: str, body: str, shape: str, schema: dict[str, Any], detail: dict[str, Any], check: Any) -> str | None:
        ctx, team = self.ctx, self.ctx.team
        member = team.member(self.role)
        assert member is not None
        # The case and the speaker as the system message, the step as the user's: a small model then
        # answers the step instead of repeating the persona it was just told ("You are the ...").
        messages = [{"role": "system", "content": self.prefix}, {"role": "user", "content": body}]
        raw, seconds = "", 0.0
        for attempt in range(1, ATTEMPTS + 1):
            will_retry = attempt < ATTEMPTS
            # Sibling steps run at once (one batch on the embedded model): each is charged its share.
            group = current_group()
            share = max(1, group.live) if group is not None else 1
            temperature = team.temperature_for(member) if attempt == 1 else max(team.temperature_for(member), RESAMPLE_TEMPERATURE)
            call = ModelCall(
                model=ctx.models[self.role],
                messages=messages,
                kind="step",
                schema=schema,
                temperature=temperature,
                max_tokens=min(LONG_STEPS.get(step, (MAX_TOKENS[shape],))[0] if shape == "sentence" else MAX_TOKENS[shape], team.sampling.max_tokens),
                top_p=team.sampling.top_p,
                seed=ctx.seed + self.seed_offset + attempt - 1,
                timeout_s=team.limits.timeout_s,
                context={**self.context, "step": {"name": step, "shape": shape, **detail}, "attempt": attempt},
            )
            try:
                reply = await acomplete(call)
            except ModelCallError as exc:
                ctx.record(ModelErrored(member=self.role, purpose=f"step:{step}", attempt=attempt, error_type=exc.kind, message=str(exc), will_retry=will_retry))
                continue
            self.usage = self.usage + reply.usage
            ctx.add_usage(self.role, reply.usage)  # counted as it is spent, so an interrupted turn's calls count too
            seconds += reply.usage.latency_s / share
            raw = reply.text
            checked: Checked = check(raw)
            if checked.text is not None:
                self.records.append(StepRecord(step, raw, attempt, seconds, True))
                return checked.text
            ctx.record(
                ModelErrored(
                    member=self.role, purpose=f"step:{step}", attempt=attempt, error_type="unusable_text",
                    message=checked.problem or "unusable reply", will_retry=will_retry, raw=raw[:2000],
                )
            )
        self.records.append(StepRecord(step, raw, ATTEMPTS, seconds, False))
        return None


_JSON = re.compile(r"\{.*\}", re.DOTALL)
_MARKS = re.compile(r"[^\w\s']+")


def normalise(text: str) -> str:
    """Lower case, marks dropped, single spaces: how two texts are compared word for word."""
    return " ".join(_MARKS.sub(" ", (text or "").lower()).split())


def _field(raw: str, name: str) -> str:
    """The named string of a JSON reply; a provider without JSON output may answer in plain text."""
    text = (raw or "").strip()
    match = _JSON.search(text)
    if match:
        try:
            data = json.loads(match.group(0))
        except ValueError:
            return ""  # broken JSON: unusable, never salvaged into a field
        value = data.get(name) if isinstance(data, dict) else None
        return value if isinstance(value, str) else ""
    return text


def _parse_choice(raw: str, values: list[str]) -> Checked:
    answer = _field(raw, "answer").strip().strip(".").strip()
    for value in values:
        if answer.lower() == value.lower():
            return Checked(value)
    # Plain text from a provider without JSON output: the one listed value it names, if only one.
    named = [v for v in values if re.search(rf"(?<![\w-]){re.escape(v)}(?![\w-])", answer, re.IGNORECASE)]
    if len(named) == 1:
        return Checked(named[0])
    return Checked(None, f"{answer[:60]!r} is not one of: {', '.join(values)}")
