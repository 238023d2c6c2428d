"""The payloads a transcript records: a member's turn and the chair's resolution, with their parts.

These are the structured replies described in DESIGN.md ("A turn, a resolution"). They live here,
at the bottom with the events that carry them (`TurnTaken.turn`, `ResolutionReached.resolution`),
so every reader (scorer, index, compare, TUI) gets typed objects. `agents.schemas` re-exports them
and narrows their JSON Schema to one scenario for the models that must produce them.

Mapping-style reads (`turn["choices"]`, `resolution.get("diagnosis")`) still work on every payload,
for code written when these were stored as plain dicts.
"""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from scenarios.model import NO_OPTION, Dimension

Stance = Literal["agree", "disagree", "amend"]

__all__ = ["Choice", "Claim", "Concern", "Dissent", "Payload", "ReplyTo", "Resolution", "Stance", "Turn"]


class Payload(BaseModel):
    """Base of every recorded payload: models add chatter fields, which are ignored rather than failing."""

    model_config = ConfigDict(extra="ignore")

    def get(self, key: str, default: Any = None) -> Any:
        """`payload.get("field")`, as on the dicts these payloads used to be."""
        return getattr(self, key) if key in type(self).model_fields else default

    def __getitem__(self, key: str) -> Any:
        if key in type(self).model_fields:
            return getattr(self, key)
        raise KeyError(key)


class Claim(Payload):
    text: str = Field(description="A statement the member relies on.")
    facts: list[str] = Field(default_factory=list, description="Fact ids that support the claim.")


class Concern(Payload):
    dimension: Dimension = Field(description="Which of the six dimensions is at stake.")
    text: str = Field(description="The concern in one or two sentences.")
    conflict: str | None = Field(default=None, description="Conflict id this concern matches, if any.")


class ReplyTo(Payload):
    member: str = Field(description="Role id of the member replied to.")
    stance: Stance = Field(description="agree | disagree | amend.")
    reason: str = Field(description="Why.")


class Choice(Payload):
    conflict: str = Field(description="Conflict id.")
    option: str = Field(description=f"Option id chosen for that conflict, or '{NO_OPTION}'.")
    rationale: str = Field(default="", description="Why this option.")


class Turn(Payload):
    position: str = Field(description="The member's position in one or two sentences.")
    recommendation: str = Field(description="What the member recommends the team do.")
    claims: list[Claim] = Field(default_factory=list, description="Claims, each citing fact ids.")
    concerns: list[Concern] = Field(default_factory=list, description="Concerns tagged with a dimension.")
    replies: list[ReplyTo] = Field(default_factory=list, description="Replies to other members.")
    choices: list[Choice] = Field(default_factory=list, description="The option the member favours per conflict.")
    requested_facts: list[str] = Field(default_factory=list, description="On-request fact ids the member asks to see.")
    confidence: float = Field(default=0.5, ge=0.0, le=1.0, description="0 to 1.")


class Dissent(Payload):
    member: str = Field(description="Role id of the dissenting member.")
    text: str = Field(description="What they disagree with.")


class Resolution(Payload):
    final_recommendation: str = Field(description="What the team will do, as it would be told to the patient's team.")
    choices: list[Choice] = Field(default_factory=list, description="One chosen option per conflict.")
    tradeoffs: list[Dimension] = Field(default_factory=list, description="Dimensions traded off against each other.")
    dissent: list[Dissent] = Field(default_factory=list, description="Dissent recorded by member.")
    uncertainty: str = Field(default="", description="What remains uncertain.")
    sign_off: str = Field(default="", description="Who signs off and is accountable.")
    diagnosis: str | None = Field(default=None, description="The working diagnosis, for diagnostic cases.")

    def chosen(self) -> dict[str, str]:
        return {c.conflict: c.option for c in self.choices}
