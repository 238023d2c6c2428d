"""What the scorer reads from a transcript, extracted once: scenario, members, turns, resolution.

A transcript embeds the scenario and team it ran with (`RunStarted.scenario`, `.team`), so scoring
needs no other file. Validated scenarios are memoised by content hash: a batch scores hundreds of
runs of the same few cases.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from functools import lru_cache
import json

from pydantic import ValidationError

from scenarios.model import Scenario
from transcripts.events import FINISHED_STATUSES, ResolutionReached, TurnTaken
from transcripts.payloads import Resolution, Turn
from transcripts.store import Transcript

DEFAULT_CONSENSUS = 0.75


class ScoringError(ValueError):
    """A transcript that cannot be scored at all (no run_started, or an invalid embedded scenario)."""


@dataclass
class MemberTurn:
    """One valid member turn, in transcript order."""

    seq: int
    round: int
    member: str
    turn: Turn


@dataclass
class RunView:
    scenario: Scenario
    members: list[str]
    consensus_threshold: float
    turns: list[MemberTurn]
    resolution: Resolution | None
    resolution_error: str | None
    rounds_used: int
    status: str
    problems: list[str] = field(default_factory=list)
    disclosure: str = "options"  # options | none: under none, conflict outcomes need a judge

    @property
    def open_ended(self) -> bool:
        return self.disclosure == "none"

    @property
    def finished(self) -> bool:
        return self.status in FINISHED_STATUSES


@lru_cache(maxsize=256)
def _validated_scenario(blob: str) -> Scenario:
    return Scenario.model_validate_json(blob)


def scenario_of(transcript: Transcript) -> Scenario:
    started = transcript.started
    if started is None:
        raise ScoringError(f"{transcript.path}: no run_started event; not a transcript that can be scored")
    # the exact content is the memo key (key order only costs a miss); cheaper than hashing canonically
    blob = json.dumps(started.scenario, separators=(",", ":"), ensure_ascii=False)
    try:
        return _validated_scenario(blob)
    except ValidationError as exc:
        first = exc.errors()[0] if exc.errors() else {"loc": (), "msg": str(exc)}
        where = ".".join(str(p) for p in first.get("loc", ())) or "scenario"
        raise ScoringError(f"{transcript.path}: embedded scenario is invalid at {where}: {first.get('msg')}") from None


def run_view(transcript: Transcript) -> RunView:
    """Everything the rules need from one transcript. Raises ScoringError if it cannot be scored."""
    scenario = scenario_of(transcript)
    started = transcript.started
    assert started is not None
    team = started.team or {}
    members = [m.get("role") for m in team.get("members", []) if isinstance(m, dict) and m.get("role")]
    limits = started.limits or team.get("limits") or {}
    try:
        threshold = float(limits.get("consensus", DEFAULT_CONSENSUS))
    except (TypeError, ValueError):
        threshold = DEFAULT_CONSENSUS

    resolution_event: ResolutionReached | None = transcript.resolution
    cutoff = resolution_event.seq if resolution_event is not None else None
    problems: list[str] = []
    turns: list[MemberTurn] = []
    for event in transcript.events:
        if not isinstance(event, TurnTaken) or not event.ok:
            continue
        if cutoff is not None and event.seq > cutoff:
            continue
        if event.turn is None:
            if event.payload_problem is not None:
                problems.append(f"turn at seq {event.seq} ({event.member}) is not a valid Turn; ignored")
            continue
        turns.append(MemberTurn(seq=event.seq, round=event.round, member=event.member, turn=event.turn))
    if not members:  # an old or hand-made transcript: the speakers are the members
        members = list(dict.fromkeys(t.member for t in turns))

    resolution: Resolution | None = None
    resolution_error: str | None = None
    if resolution_event is None:
        resolution_error = "no resolution"
    elif resolution_event.ok and resolution_event.payload_problem is not None:
        resolution_error = "the recorded resolution is not a valid Resolution"
    elif not resolution_event.ok or resolution_event.resolution is None:
        resolution_error = resolution_event.error or "the chair's resolution did not validate"
    else:
        resolution = resolution_event.resolution

    ended = transcript.ended
    rounds_used = ended.rounds if ended is not None and ended.rounds else max((t.round for t in turns), default=0)
    return RunView(
        scenario=scenario,
        members=members,
        consensus_threshold=threshold,
        turns=turns,
        resolution=resolution,
        resolution_error=resolution_error,
        rounds_used=rounds_used,
        status=transcript.status,
        problems=problems,
        disclosure=str(getattr(started, "disclosure", None) or "options"),
    )
