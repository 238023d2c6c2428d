"""What a replay shows at each step: the steps of a transcript and the state of the case at step i.

Plain Python (no widgets), so the replay and live screens share it and tests can check it directly.
A step is one shown event; the state at a step is what an observer knows by then: facts revealed,
the facts the current turn cites, and each conflict's life (raised, debated, resolved).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Iterable

from transcripts.events import (
    AnswerSampled,
    ChairDecided,
    Event,
    FactRevealed,
    ModelErrored,
    ResolutionReached,
    RunEnded,
    RunStarted,
    Scored,
    TurnTaken,
)

__all__ = ["ConflictLife", "ReplayModel", "ReplayState", "Step"]

_KINDS: dict[type, str] = {
    RunStarted: "case",
    TurnTaken: "turn",
    FactRevealed: "fact",
    ChairDecided: "chair",
    ModelErrored: "error",
    AnswerSampled: "answer",
    ResolutionReached: "resolution",
    RunEnded: "end",
    Scored: "score",
}


@dataclass
class Step:
    index: int
    kind: str
    round: int  # 0 before the first round
    event: Event


@dataclass
class ConflictLife:
    id: str
    title: str
    dimensions: list[str]
    raised_by: str | None = None
    raised_round: int | None = None
    raised_step: int | None = None
    mentions: int = 0  # concerns naming it, after it was raised
    favoured: dict[str, str] = field(default_factory=dict)  # member -> option they favour, latest
    resolved_option: str | None = None
    resolved_verdict: str | None = None
    resolved_rationale: str = ""

    @property
    def stage(self) -> str:
        if self.resolved_option is not None:
            return "resolved"
        if self.raised_by is not None:
            return "debated" if self.mentions or len(self.favoured) > 1 else "raised"
        return "hidden"


@dataclass
class ReplayState:
    index: int
    revealed: dict[str, tuple[str, int]]  # fact id -> (requested_by, round)
    cited: set[str]
    requested: set[str]
    conflicts: list[ConflictLife]
    speaker: str | None


def _as_dict(value: Any) -> dict[str, Any]:
    return value if isinstance(value, dict) else {}


def _as_list(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


class ReplayModel:
    """The steps of a run; grows as events arrive (live runs)."""

    def __init__(self, events: Iterable[Event] = ()) -> None:
        self.steps: list[Step] = []
        self.started: RunStarted | None = None
        self._round = 0
        for event in events:
            self.add(event)

    # building -----------------------------------------------------------------------------------
    def add(self, event: Event) -> Step | None:
        kind = _KINDS.get(type(event))
        if kind is None:
            return None
        if isinstance(event, RunStarted):
            if self.started is not None:
                return None  # a second run_started would restart the story; ignore it
            self.started = event
        rnd = getattr(event, "round", None)
        if isinstance(rnd, int) and rnd > 0:
            self._round = max(self._round, rnd)
            step_round = rnd
        else:
            step_round = self._round
        step = Step(index=len(self.steps), kind=kind, round=step_round, event=event)
        self.steps.append(step)
        return step

    # the case -----------------------------------------------------------------------------------
    @property
    def scenario(self) -> dict[str, Any]:
        return _as_dict(self.started.scenario) if self.started else {}

    @property
    def team(self) -> dict[str, Any]:
        return _as_dict(self.started.team) if self.started else {}

    def facts(self) -> list[dict[str, Any]]:
        return [f for f in _as_list(self.scenario.get("facts")) if isinstance(f, dict)]

    def fact_ids(self) -> set[str]:
        return {str(f.get("id")) for f in self.facts()}

    def conflicts(self) -> list[dict[str, Any]]:
        return [c for c in _as_list(self.scenario.get("conflicts")) if isinstance(c, dict)]

    def option_verdict(self, conflict_id: str, option_id: str) -> str | None:
        for conflict in self.conflicts():
            if conflict.get("id") == conflict_id:
                for option in _as_list(conflict.get("options")):
                    if isinstance(option, dict) and option.get("id") == option_id:
                        return option.get("verdict")
        return None

    def conflict_title(self, conflict_id: str) -> str:
        for conflict in self.conflicts():
            if conflict.get("id") == conflict_id:
                return str(conflict.get("title", ""))
        return ""

    # navigation ---------------------------------------------------------------------------------
    def __len__(self) -> int:
        return len(self.steps)

    @property
    def rounds(self) -> list[int]:
        return sorted({s.round for s in self.steps if s.kind == "turn"})

    def first_step_of_round(self, rnd: int) -> int | None:
        return next((s.index for s in self.steps if s.round == rnd and s.kind in ("turn", "fact", "error", "chair")), None)

    def last_of_kind(self, kind: str) -> int | None:
        return next((s.index for s in reversed(self.steps) if s.kind == kind), None)

    # state --------------------------------------------------------------------------------------
    def state_at(self, index: int) -> ReplayState:
        index = max(0, min(index, len(self.steps) - 1)) if self.steps else -1
        lives = {
            str(c.get("id")): ConflictLife(
                id=str(c.get("id")),
                title=str(c.get("title", "")),
                dimensions=[str(d) for d in _as_list(c.get("dimensions"))],
            )
            for c in self.conflicts()
        }
        revealed: dict[str, tuple[str, int]] = {}
        cited: set[str] = set()
        requested: set[str] = set()
        speaker: str | None = None
        for step in self.steps[: index + 1]:
            event = step.event
            current = step.index == index
            if isinstance(event, FactRevealed):
                revealed[event.fact_id] = (event.requested_by, event.round)
                if current:
                    cited.add(event.fact_id)
            elif isinstance(event, TurnTaken) and event.turn is not None:
                turn = event.turn
                if current:
                    speaker = event.member
                    for claim in turn.claims:
                        cited.update(claim.facts)
                    requested.update(turn.requested_facts)
                for concern in turn.concerns:
                    cid = concern.conflict
                    life = lives.get(cid) if cid else None
                    if life is None:
                        continue
                    if life.raised_by is None:
                        life.raised_by, life.raised_round, life.raised_step = event.member, event.round, step.index
                    else:
                        life.mentions += 1
                for choice in turn.choices:
                    life = lives.get(choice.conflict)
                    if life is not None and choice.option:
                        life.favoured[event.member] = choice.option
            elif isinstance(event, TurnTaken) and current:
                speaker = event.member
            elif isinstance(event, ChairDecided) and current:
                speaker = "chair"
            elif isinstance(event, ResolutionReached) and event.resolution is not None:
                for choice in event.resolution.choices:
                    life = lives.get(choice.conflict)
                    if life is not None:
                        life.resolved_option = choice.option
                        life.resolved_verdict = self.option_verdict(life.id, life.resolved_option)
                        life.resolved_rationale = choice.rationale
                if current:
                    speaker = "chair"
        return ReplayState(
            index=index,
            revealed=revealed,
            cited=cited,
            requested=requested,
            conflicts=list(lives.values()),
            speaker=speaker,
        )
