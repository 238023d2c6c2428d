"""What a run's nodes share: the run's context (scenario, team, models, the transcript sink, the
reply schemas) and the outcome of one structured call."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from pydantic import BaseModel

from agents.prompting import case_block
from agents.schemas import reply_schema
from agents.team import Team
from scenarios.model import Scenario
from transcripts.events import Event, Usage


@dataclass
class RunContext:
    scenario: Scenario
    team: Team
    personas: dict[str, str]
    models: dict[str, str]
    seed: int
    record: Callable[[Event], Event]
    scenario_json: dict[str, Any] = field(default_factory=dict)
    usage_by_member: dict[str, Usage] = field(default_factory=dict)
    schemas: dict[str, dict[str, Any]] = field(default_factory=dict)
    scenario_hash: str = ""  # lets runs of the same scenario share their reply schemas
    disclosure: str = ""  # options | none; empty means the team's own setting
    turn_style: str = ""  # whole | stepwise; empty means the team's setting, `auto` resolved for these models
    case_text: str = ""  # the case block that opens every prompt of the run, rendered once

    def __post_init__(self) -> None:
        if not self.scenario_json:
            self.scenario_json = self.scenario.model_dump(mode="json")
        self.disclosure = self.disclosure or self.team.disclosure
        self.turn_style = self.turn_style or self.team.resolved_turn_style(self.models)
        self.schemas = _schemas_for(self.scenario, tuple(self.team.member_ids()), self.scenario_hash, self.disclosure)
        self.case_text = self.case_text or case_block(self.scenario, self.disclosure)

    @property
    def open_ended(self) -> bool:
        """Disclosure `none`: replies carry no conflict or option ids."""
        return self.disclosure == "none"

    def add_usage(self, role: str, usage: Usage) -> None:
        self.usage_by_member[role] = self.usage_by_member.get(role, Usage()) + usage


_SCHEMA_CACHE: dict[tuple[str, tuple[str, ...], str], dict[str, dict[str, Any]]] = {}


def _schemas_for(scenario: Scenario, members: tuple[str, ...], scenario_hash: str, disclosure: str = "options") -> dict[str, dict[str, Any]]:
    """Reply schemas for a scenario and a team's members; a batch reuses them across its runs."""
    key = (scenario_hash, members, disclosure)
    cached = _SCHEMA_CACHE.get(key) if scenario_hash else None
    if cached is None:
        cached = {
            kind: reply_schema(kind, scenario, list(members), disclosure=disclosure)
            for kind in ("turn", "resolution", "chair_decision")
        }
        if scenario_hash:
            if len(_SCHEMA_CACHE) > 256:
                _SCHEMA_CACHE.clear()
            _SCHEMA_CACHE[key] = cached
    return cached


@dataclass
class Structured:
    """Outcome of one structured call, after validation retries."""

    value: BaseModel | None
    raw: str
    attempts: int
    usage: Usage
    error: str | None
