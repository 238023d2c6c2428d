"""Transcript events: one JSON object per line, typed by `type`, versioned by `v`.

A transcript is the source of truth for a run: it embeds the scenario and team it ran with, so a
transcript can be replayed and scored without the files it came from.

Events are typed down to the leaves (`TurnTaken.turn` is a `Turn`, `ResolutionReached.resolution`
a `Resolution`, `Scored.scorecard` a `Scorecard`) and read leniently by `parse_event`:
- an event written by an older version is brought up to date by the steps in `MIGRATIONS`
  (`{from_version: fn(dict) -> dict}`, applied in order up to `EVENT_VERSION`);
- an event from a newer version is read as far as this version understands it (unknown fields are
  ignored); if it no longer fits its type it is kept as an `OpaqueEvent`;
- an unknown event type is kept as an `OpaqueEvent` (all its fields preserved), never an error;
- a payload that does not validate (a hand-edited or foreign turn) leaves the field `None` and the
  event readable; `event.payload_problem` says what was wrong.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime, timezone
from typing import Annotated, Any, Literal, Union

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr, TypeAdapter, ValidationError, ValidationInfo, model_validator

from transcripts.payloads import Resolution, Turn
from transcripts.scorecard import Scorecard

EVENT_VERSION = 1

RunStatus = Literal["running", "completed", "failed", "interrupted", "limit_reached"]
FINISHED_STATUSES: tuple[str, ...] = ("completed", "failed", "limit_reached")


def now_iso() -> str:
    return datetime.now(timezone.utc).isoformat(timespec="milliseconds")


class Usage(BaseModel):
    model_config = ConfigDict(extra="ignore")
    model: str = Field(default="", description="Model that served the call.")
    prompt_tokens: int = Field(default=0, description="Prompt tokens.")
    completion_tokens: int = Field(default=0, description="Completion tokens.")
    cost_usd: float = Field(default=0.0, description="Cost in US dollars as litellm priced it (0 for local models).")
    latency_s: float = Field(default=0.0, description="Wall time of the call in seconds.")
    cached: bool = Field(default=False, description="Served from the response cache.")

    def is_empty(self) -> bool:
        return not (self.prompt_tokens or self.completion_tokens or self.cost_usd or self.latency_s or self.cached)

    def __add__(self, other: Usage) -> Usage:
        # An empty Usage is the identity; a sum is `cached` only when every part was.
        cached = other.cached if self.is_empty() else self.cached if other.is_empty() else self.cached and other.cached
        return Usage(
            model=self.model or other.model,
            prompt_tokens=self.prompt_tokens + other.prompt_tokens,
            completion_tokens=self.completion_tokens + other.completion_tokens,
            cost_usd=self.cost_usd + other.cost_usd,
            latency_s=self.latency_s + other.latency_s,
            cached=cached,
        )


class _Event(BaseModel):
    model_config = ConfigDict(extra="ignore")
    v: int = Field(default=EVENT_VERSION, description="Event schema version.")
    seq: int = Field(default=0, description="Position of the event in the transcript, from 0.")
    ts: str = Field(default_factory=now_iso, description="UTC time the event was written.")
    _payload_problem: str | None = PrivateAttr(default=None)

    @property
    def payload_problem(self) -> str | None:
        """Why a recorded payload was set aside while reading (None when everything validated)."""
        return self._payload_problem


READING = {"lenient": True}  # validation context of `parse_event`: payloads are read leniently


def _lenient(field: str, model: type[BaseModel]) -> Callable[..., Any]:
    """A wrap validator: when reading (`parse_event`), a payload that does not validate as `model` is
    read as None, with a note; an event built in code with an invalid payload still raises."""

    def validate(cls: type[_Event], data: Any, handler: Callable[[Any], _Event], info: ValidationInfo) -> _Event:
        problem = None
        reading = bool(info.context and info.context.get("lenient"))
        if reading and isinstance(data, dict) and data.get(field) is not None and not isinstance(data[field], model):
            try:
                data = {**data, field: model.model_validate(data[field])}
            except ValidationError as exc:
                first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
                where = ".".join(str(p) for p in first.get("loc", ())) or field
                problem = f"{field} is not a valid {model.__name__} ({where}: {first.get('msg')}); set aside"
                data = {**data, field: None}
        event = handler(data)
        if problem is not None:
            event._payload_problem = problem
        return event

    return model_validator(mode="wrap")(validate)  # type: ignore[return-value]


class RunStarted(_Event):
    type: Literal["run_started"] = "run_started"
    run_id: str = Field(description="Deterministic id from scenario, team, models and seed.")
    batch: str = Field(default="", description="Batch folder name.")
    scenario_id: str = Field(description="Scenario id.")
    scenario_hash: str = Field(description="sha256 of the scenario's canonical JSON.")
    team_id: str = Field(description="Team id.")
    team_hash: str = Field(description="sha256 of the team's canonical JSON with prompts resolved.")
    protocol: str = Field(description="Deliberation protocol.")
    disclosure: str = Field(default="options", description="What the agents were shown of the conflicts: options (titles and options, they pick ids) | none (only the case and the question; free text).")
    models: dict[str, str] = Field(description="Model per role id (chair included).")
    judge: str | None = Field(default=None, description="Judge model configured for the team, if any.")
    seed: int = Field(default=0, description="Seed passed to every call.")
    sampling: dict[str, Any] = Field(default_factory=dict, description="Sampling settings.")
    limits: dict[str, Any] = Field(default_factory=dict, description="Team limits in force.")
    versions: dict[str, str] = Field(default_factory=dict, description="Package versions.")
    settings: dict[str, Any] = Field(default_factory=dict, description="Other recorded settings (e.g. model override), for grouping.")
    scenario: dict[str, Any] = Field(description="The scenario as run.")
    team: dict[str, Any] = Field(description="The team as run, with persona prompts inlined.")


class FactRevealed(_Event):
    type: Literal["fact_revealed"] = "fact_revealed"
    round: int = Field(description="Round in which the fact was revealed.")
    fact_id: str = Field(description="Fact id.")
    requested_by: str = Field(description="Role id that asked for it.")
    text: str = Field(description="The fact's text.")


class TurnTaken(_Event):
    type: Literal["turn"] = "turn"
    round: int = Field(description="Round number, from 1.")
    member: str = Field(description="Role id of the speaker.")
    ok: bool = Field(description="True when the reply validated; False for a failed turn.")
    turn: Turn | None = Field(default=None, description="The validated Turn, or None for a failed turn.")
    raw: str = Field(default="", description="The model's raw text (last attempt).")
    attempts: int = Field(default=1, description="Attempts made (1 = valid on first try).")
    error: str | None = Field(default=None, description="Why the turn failed, for failed turns.")
    usage: Usage = Field(default_factory=Usage, description="Tokens, cost and latency summed over attempts.")

    lenient_turn = _lenient("turn", Turn)


class ChairDecided(_Event):
    type: Literal["chair_decision"] = "chair_decision"
    round: int = Field(description="Round number.")
    next_speaker: str = Field(description="Role id chosen to speak next, or 'resolve'.")
    reason: str = Field(default="", description="The chair's reason.")
    call_vote: bool = Field(default=False, description="Whether a vote was called.")
    usage: Usage = Field(default_factory=Usage, description="Tokens, cost and latency.")


class ModelErrored(_Event):
    type: Literal["model_error"] = "model_error"
    member: str = Field(description="Role id whose call failed.")
    purpose: str = Field(default="turn", description="turn | resolution | chair_decision | judge.")
    attempt: int = Field(description="Attempt number, from 1.")
    error_type: str = Field(description="timeout | rate_limit | invalid_json | validation | provider | ...")
    message: str = Field(description="The error, with secrets redacted.")
    will_retry: bool = Field(description="Whether another attempt follows.")
    raw: str = Field(default="", description="What the model returned, if anything.")


class ResolutionReached(_Event):
    type: Literal["resolution"] = "resolution"
    ok: bool = Field(description="True when the chair's reply validated.")
    resolution: Resolution | None = Field(default=None, description="The validated Resolution.")
    raw: str = Field(default="", description="The chair's raw text.")
    attempts: int = Field(default=1, description="Attempts made.")
    error: str | None = Field(default=None, description="Why no valid resolution was produced.")
    usage: Usage = Field(default_factory=Usage, description="Tokens, cost and latency.")

    lenient_resolution = _lenient("resolution", Resolution)


class AnswerSampled(_Event):
    type: Literal["answer"] = "answer"
    index: int = Field(description="Which independent answer (from 1) of a self_consistency run.")
    member: str = Field(description="Role id that answered (the team's chair).")
    ok: bool = Field(description="True when the reply validated.")
    resolution: dict[str, Any] | None = Field(default=None, description="The answer, in the resolution format.")
    raw: str = Field(default="", description="The model's raw text (last attempt).")
    attempts: int = Field(default=1, description="Attempts made.")
    error: str | None = Field(default=None, description="Why the answer failed, for failed answers.")
    usage: Usage = Field(default_factory=Usage, description="Tokens, cost and latency summed over attempts.")


class RunEnded(_Event):
    type: Literal["run_ended"] = "run_ended"
    status: RunStatus = Field(description="completed | failed | interrupted | limit_reached.")
    reason: str = Field(default="", description="Why the run ended that way.")
    turns: int = Field(default=0, description="Member turns taken.")
    rounds: int = Field(default=0, description="Rounds used.")
    usage: Usage = Field(default_factory=Usage, description="Totals for the run (excluding judge calls).")
    usage_by_member: dict[str, Usage] = Field(default_factory=dict, description="Totals per role id.")
    duration_s: float = Field(default=0.0, description="Wall time of the run.")


class Scored(_Event):
    type: Literal["score"] = "score"
    scorer_version: str = Field(description="Version of the scoring rules.")
    judge: str | None = Field(default=None, description="Judge model identity, or None for rules only.")
    scorecard: Scorecard | None = Field(description="The scorecard (see transcripts.scorecard); None if it could not be read.")
    usage: Usage = Field(default_factory=Usage, description="Judge tokens and cost.")

    lenient_scorecard = _lenient("scorecard", Scorecard)


class OpaqueEvent(_Event):
    """An event this version does not know (a newer writer, another tool): every field is kept as read."""

    model_config = ConfigDict(extra="allow")
    type: str = Field(description="The event's type, as written.")

    @property
    def data(self) -> dict[str, Any]:
        """The fields beyond v, seq, ts and type."""
        return dict(self.model_extra or {})


KnownEvent = Annotated[
    Union[RunStarted, FactRevealed, TurnTaken, ChairDecided, ModelErrored, AnswerSampled, ResolutionReached, RunEnded, Scored],
    Field(discriminator="type"),
]
# What a transcript holds: the known events, plus whatever this version could not type.
Event = Union[RunStarted, FactRevealed, TurnTaken, ChairDecided, ModelErrored, AnswerSampled, ResolutionReached, RunEnded, Scored, OpaqueEvent]
EVENT_ADAPTER: TypeAdapter[KnownEvent] = TypeAdapter(KnownEvent)
EVENT_TYPES: tuple[str, ...] = (
    "run_started",
    "fact_revealed",
    "turn",
    "chair_decision",
    "model_error",
    "answer",
    "resolution",
    "run_ended",
    "score",
)


# Migration steps: MIGRATIONS[n] turns an event dict of version n into one of version n + 1. Version 1
# is the first; add a step here (and a test with an old event) whenever EVENT_VERSION goes up.
Migration = Callable[[dict[str, Any]], dict[str, Any]]
MIGRATIONS: dict[int, Migration] = {}


def migrate(data: dict[str, Any]) -> dict[str, Any]:
    """Bring an event dict written by an older version up to EVENT_VERSION (a missing `v` is 1)."""
    try:
        version = int(data.get("v", 1))
    except (TypeError, ValueError):
        raise ValueError(f"event version {data.get('v')!r} is not a number") from None
    while version < EVENT_VERSION:
        step = MIGRATIONS.get(version)
        if step is not None:
            data = step(dict(data))
        version += 1
        data = {**data, "v": version}
    return data


def parse_event(data: dict[str, Any]) -> Event:
    """One event from its JSON object: migrated, typed, and never rejected only for being unknown or newer.

    Raises ValueError / ValidationError for a known event of this version (or older) that does not fit
    its type: that line is damaged, and the reader reports it.
    """
    kind = data.get("type")
    if not isinstance(kind, str) or not kind:
        raise ValueError("event has no type")
    data = migrate(data)
    if kind not in EVENT_TYPES:
        return OpaqueEvent.model_validate(data)
    try:
        return EVENT_ADAPTER.validate_python(data, context=READING)
    except ValidationError:
        if data["v"] > EVENT_VERSION:  # a newer writer changed this event beyond what we read
            return OpaqueEvent.model_validate(data)
        raise
