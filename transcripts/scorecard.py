"""The scorecard format: per-dimension scores traceable to the items that made them.

Stored (typed) as `Scored.scorecard` in transcripts; read by the TUI, `compare` and reports.
"""

from __future__ import annotations

from typing import Literal

from pydantic import Field

from transcripts.payloads import Payload

ItemKind = Literal["conflict", "red_flag", "grounding", "diagnosis", "rubric", "process"]


class _Model(Payload):
    """Unknown fields are ignored; mapping-style reads (`card["overall"]`) work as on the old dicts."""


class ScoreItem(_Model):
    id: str = Field(description="Stable id within the scorecard, e.g. conflict:C1, red_flag:RF2, rubric:R3.")
    kind: ItemKind = Field(description="What kind of evidence this is.")
    label: str = Field(description="One line a reader understands.")
    dimensions: list[str] = Field(description="Dimensions this item feeds.")
    earned: float = Field(description="Points earned (may be negative).")
    possible: float = Field(description="Points at stake (>= 0); 0 means informative only.")
    outcome: str = Field(description="e.g. preferred, acceptable, unacceptable, none, hit, clear, met, not met, ungraded, correct, wrong.")
    reason: str = Field(default="", description="Why: the judge's reason, the matching text, the fact ids.")
    graded: bool = Field(default=True, description="False when a judge reply could not be parsed: excluded from the score.")
    judged: bool = Field(default=False, description="The outcome rests on a judge's reading of free text (disclosure none), not on an id the team typed.")
    quote: str = Field(default="", description="For judged items: the words of the transcript the judge quoted as deciding it.")


class DimensionScore(_Model):
    dimension: str = Field(description="One of the six dimensions.")
    score: float | None = Field(description="0-100, or None when no item assessed this dimension (not assessed).")
    items: list[str] = Field(default_factory=list, description="Ids of the items that made the score.")
    earned: float = Field(default=0.0, description="Sum of earned points over graded items (penalties included).")
    possible: float = Field(default=0.0, description="Sum of points at stake over graded items.")


class ConflictOutcome(_Model):
    id: str = Field(description="Conflict id.")
    title: str = Field(default="", description="Conflict title.")
    dimensions: list[str] = Field(default_factory=list, description="Dimensions of the conflict.")
    raised: bool = Field(description="Some member flagged it before the resolution.")
    raised_by: str | None = Field(default=None, description="Role id that raised it first.")
    raised_round: int | None = Field(default=None, description="Round it was first raised.")
    addressed: bool = Field(description="The resolution picks an option for it.")
    option: str | None = Field(default=None, description="Option id picked (or 'none'); under disclosure none, the judge's mapping (several ids joined by '+').")
    verdict: str | None = Field(default=None, description="Verdict of the option picked (the worst one when several were).")
    assessed: bool = Field(default=True, description="False for a free-text (disclosure none) run scored without a judge: outcome unknown.")
    judged: bool = Field(default=False, description="Option and raised-by come from the judge's reading of free text.")
    options: list[str] = Field(default_factory=list, description="Judged: every option id the recommendation commits to.")
    quote: str = Field(default="", description="Judged: the words of the final recommendation that decide the option.")
    raised_quote: str = Field(default="", description="Judged: the member's words that raised the conflict.")


class Grounding(_Model):
    claims: int = Field(default=0, description="Claims made by members.")
    grounded: int = Field(default=0, description="Claims citing at least one existing fact and no fabricated one.")
    share: float | None = Field(default=None, description="grounded / claims, None when no claims.")
    fabricated: list[str] = Field(default_factory=list, description="Cited fact ids that do not exist.")


class Diagnosis(_Model):
    expected: str = Field(description="Ground-truth diagnosis.")
    given: str | None = Field(default=None, description="Diagnosis in the resolution.")
    correct: bool | None = Field(default=None, description="None when it could not be decided.")
    method: str = Field(default="normalised", description="normalised | judge.")


class PositionChange(_Model):
    member: str = Field(description="Role id whose choice changed.")
    round: int = Field(description="Round of the change.")
    conflict: str = Field(description="Conflict id.")
    before: str = Field(description="Option id before.")
    after: str = Field(description="Option id after.")
    influenced_by: str | None = Field(default=None, description="Member whose earlier turn favoured the new option, if any.")


class Process(_Model):
    consensus: float | None = Field(default=None, description="Share of members whose last choices match the resolution.")
    consensus_reached: bool = Field(default=False, description="consensus >= the team's threshold.")
    dissent_recorded: bool = Field(default=False, description="The resolution records dissent by member.")
    position_changes: list[PositionChange] = Field(default_factory=list, description="Who moved, and who moved them.")
    rounds_used: int = Field(default=0, description="Rounds used.")
    dimensions_considered: list[str] = Field(default_factory=list, description="Dimensions raised in concerns.")


class Scorecard(_Model):
    scorer_version: str = Field(description="Version of the scoring rules.")
    judge: str | None = Field(default=None, description="Judge model, or None for rules only.")
    overall: float | None = Field(description="0-100 overall, None if nothing was assessed.")
    dimensions: dict[str, DimensionScore] = Field(description="One entry per dimension, in canonical order.")
    items: list[ScoreItem] = Field(default_factory=list, description="Every item, in the order shown.")
    conflicts: list[ConflictOutcome] = Field(default_factory=list, description="Per-conflict outcomes.")
    red_flags_hit: list[str] = Field(default_factory=list, description="Red flag ids that matched the final recommendation.")
    grounding: Grounding = Field(default_factory=Grounding, description="Fact citation quality.")
    diagnosis: Diagnosis | None = Field(default=None, description="For cases with ground truth.")
    process: Process = Field(default_factory=Process, description="Process measures (reported, not scored).")
    rubric_agreement: float | None = Field(default=None, description="Agreement between judge samples, 0-1.")
    judge_samples: int = Field(default=0, description="Judge samples per criterion (0 when no judge).")
    rubric_ungraded: int = Field(default=0, description="Rubric criteria left ungraded (unparseable or failed judge replies).")
    status: str = Field(default="", description="Run status when scored: completed, failed, interrupted ...")
