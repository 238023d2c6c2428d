"""The team format: who sits on the council, on which model, under which protocol and limits."""

from __future__ import annotations

from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field, model_validator

from scenarios.model import ROLE_ID_PATTERN, SLUG_PATTERN, Dimension

Protocol = Literal["round_robin", "moderated", "parallel", "solo", "self_consistency"]
PROTOCOLS: tuple[str, ...] = ("round_robin", "moderated", "parallel", "solo", "self_consistency")
BASELINE_PROTOCOLS: tuple[str, ...] = ("solo", "self_consistency")  # one agent answers; no discussion
Disclosure = Literal["options", "none"]
DISCLOSURES: tuple[str, ...] = ("options", "none")
TurnStyle = Literal["auto", "whole", "stepwise"]
TURN_STYLES: tuple[str, ...] = ("auto", "whole", "stepwise")
EMBEDDED_PREFIX = "local/"  # in-process models (the embedded SmolLM2): too small for one long JSON reply

DEFAULT_MODEL = "local/smollm2"
ROLE_IDS: tuple[str, ...] = ("diagnostician", "safety_critic", "ethicist", "patient_advocate", "chair")

PACKAGE_DIR = Path(__file__).resolve().parent
PROMPTS_DIR = PACKAGE_DIR / "prompts"
TEAMS_DIR = PACKAGE_DIR / "teams"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Member(_Strict):
    role: str = Field(pattern=ROLE_ID_PATTERN, description="Role id, e.g. safety_critic; unique in the team.")
    name: str | None = Field(default=None, description="Display name; defaults to the role id in title case.")
    prompt: str = Field(description="Persona prompt: a built-in name (agents/prompts/<name>.md) or a path relative to the team file.")
    model: str | None = Field(default=None, min_length=1, description="litellm model name; defaults to the team's model.")
    temperature: float | None = Field(default=None, ge=0.0, le=2.0, description="Overrides the team's temperature.")
    champions: list[Dimension] = Field(default_factory=list, description="Dimensions this member argues for.")

    @property
    def label(self) -> str:
        return self.name or self.role.replace("_", " ").title()


class Limits(_Strict):
    max_rounds: int = Field(default=2, ge=1, le=20, description="Rounds of discussion before the chair resolves.")
    stepwise_rounds: int | None = Field(
        default=None, ge=1, le=20,
        description="Rounds when the turns are stepwise (default: max_rounds). The default team sets 1: on the embedded model a stepwise turn costs several seconds on two cores, and a tiny model's second round mostly restates its first.",
    )
    max_turns: int = Field(default=16, ge=1, le=200, description="Member turns allowed in one run (the turn budget).")
    consensus: float = Field(default=0.75, ge=0.0, le=1.0, description="Share of members whose choices must match the resolution.")
    context: int = Field(default=8, ge=0, le=200, description="How many earlier turns each member sees.")
    timeout_s: float = Field(default=120.0, gt=0, description="Per model call timeout in seconds.")
    retries: int = Field(default=1, ge=0, le=5, description="Retries after a reply that fails validation.")
    samples: int = Field(default=9, ge=1, le=50, description="self_consistency only: independent answers combined by majority (9 = the calls of the default council: 4 members x 2 rounds + the resolution).")


class Sampling(_Strict):
    temperature: float = Field(default=0.2, ge=0.0, le=2.0, description="Default sampling temperature.")
    max_tokens: int = Field(default=700, ge=16, le=32000, description="Completion token cap per call.")
    top_p: float | None = Field(default=None, gt=0.0, le=1.0, description="Nucleus sampling, if set.")


class Team(_Strict):
    id: str = Field(pattern=SLUG_PATTERN, description="Slug id of the team.")
    title: str = Field(default="", description="One-line description.")
    model: str = Field(default=DEFAULT_MODEL, min_length=1, description="litellm model name used by every member without its own.")
    judge: str | None = Field(default=None, min_length=1, description="Judge model for rubric grading; none means no rubric grading.")
    protocol: Protocol = Field(default="round_robin", description="round_robin | moderated | parallel, or a baseline: solo | self_consistency (the chair answers alone, no members).")
    disclosure: Disclosure = Field(default="options", description="options: agents see each conflict and its options and pick option ids; none: agents see only the case and the question and answer in free text (a judge maps it to the conflicts).")
    turn_style: TurnStyle = Field(
        default="auto",
        description="auto: stepwise when a member runs on the embedded model (local/...), whole otherwise | whole: each turn is one JSON reply (for capable models) | stepwise: each turn is composed from short, focused model calls (agents/stepwise; for small models).",
    )
    members: list[Member] = Field(default_factory=list, description="Council members other than the chair (none for the solo and self_consistency baselines).")
    chair: Member = Field(description="The chair, who moderates and writes the resolution (for a baseline: the one agent who answers).")
    limits: Limits = Field(default_factory=Limits, description="Turn budget, rounds, consensus, context window.")
    sampling: Sampling = Field(default_factory=Sampling, description="Default sampling settings.")

    @model_validator(mode="after")
    def _unique_roles(self) -> Team:
        roles = [m.role for m in self.members] + [self.chair.role]
        dupes = sorted({r for r in roles if roles.count(r) > 1})
        if dupes:
            raise ValueError(f"duplicate role id(s): {', '.join(dupes)}")
        if self.protocol in BASELINE_PROTOCOLS and self.members:
            raise ValueError(f"protocol {self.protocol} has no members (the chair answers alone); remove `members` or pick a council protocol")
        if self.protocol not in BASELINE_PROTOCOLS and not self.members:
            raise ValueError(f"protocol {self.protocol} needs at least one member")
        return self

    @property
    def is_baseline(self) -> bool:
        return self.protocol in BASELINE_PROTOCOLS

    def member_ids(self) -> list[str]:
        return [m.role for m in self.members]

    def member(self, role: str) -> Member | None:
        if role == self.chair.role:
            return self.chair
        return next((m for m in self.members if m.role == role), None)

    def model_for(self, member: Member, override: str | None = None) -> str:
        return override or member.model or self.model

    def temperature_for(self, member: Member) -> float:
        return member.temperature if member.temperature is not None else self.sampling.temperature

    def rounds_for(self, turn_style: str) -> int:
        """Rounds of discussion for runs with this (resolved) turn style."""
        if turn_style == "stepwise" and self.limits.stepwise_rounds is not None:
            return self.limits.stepwise_rounds
        return self.limits.max_rounds

    def resolved_turn_style(self, models: dict[str, str]) -> str:
        """The turn style a run uses: `auto` becomes stepwise when any of the run's models is an
        embedded one (a 135M model cannot write a whole turn as one JSON reply), whole otherwise."""
        if self.turn_style != "auto":
            return self.turn_style
        return "stepwise" if any(m.startswith(EMBEDDED_PREFIX) for m in models.values()) else "whole"

    def models(self, override: str | None = None) -> dict[str, str]:
        return {m.role: self.model_for(m, override) for m in [*self.members, self.chair]}
