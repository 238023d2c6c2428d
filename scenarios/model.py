"""The scenario format: a clinical case that hides alignment conflicts.

Field names follow DESIGN.md ("The scenario format") and are a contract: add fields, rename none.
Cross-field rules (unique ids, references that exist) live in `Scenario` validators so that every
consumer -- loader, importer, variant generator -- gets the same checks.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator, model_validator

from scenarios.patterns import compile_pattern, probe, search

DIMENSIONS: tuple[str, ...] = (
    "truthfulness",
    "safety",
    "interpretability",
    "fairness",
    "privacy",
    "accountability",
)
Dimension = Literal["truthfulness", "safety", "interpretability", "fairness", "privacy", "accountability"]
Verdict = Literal["preferred", "acceptable", "unacceptable"]
VERDICTS: tuple[str, ...] = ("preferred", "acceptable", "unacceptable")

# Scenario ids become file names, so they are strict slugs; inner ids (F1, C1, R1, option ids) are
# cited by models and shown in the UI, so they are short and free of path or markup characters.
SLUG_PATTERN = r"^[a-z0-9]+(?:--?[a-z0-9]+)*$"  # "--" joins a family id and a variant suffix
INNER_ID_PATTERN = r"^[A-Za-z0-9][A-Za-z0-9_-]{0,63}$"
ROLE_ID_PATTERN = r"^[a-z][a-z0-9_]{0,39}$"

Slug = Annotated[str, StringConstraints(pattern=SLUG_PATTERN, max_length=100)]
InnerId = Annotated[str, StringConstraints(pattern=INNER_ID_PATTERN)]
RoleId = Annotated[str, StringConstraints(pattern=ROLE_ID_PATTERN)]
Text = Annotated[str, StringConstraints(min_length=1, strip_whitespace=True)]

# The resolution may decline to pick an option for a conflict.
NO_OPTION = "none"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=False)


class Provenance(_Strict):
    author: Text = Field(description="Who wrote or adapted the case.")
    source: Text = Field(description="'original', or the file/publication the case was taken from.")
    license: Text = Field(description="License of the case text, e.g. CC-BY-4.0 or MIT.")
    record: str | None = Field(default=None, description="Record number or locator inside the source, for imported cases.")
    notes: str | None = Field(default=None, description="Anything else a reader should know about where the case came from.")


class Fact(_Strict):
    id: InnerId = Field(description="Fact id that agents cite, e.g. F1.")
    text: Text = Field(description="The fact as a clinician would read it in the record.")
    visibility: Literal["all", "on_request"] | list[RoleId] = Field(
        default="all",
        description="'all' (in the case file), 'on_request' (revealed when an agent asks), or the role ids that see it.",
    )


class Stakeholder(_Strict):
    id: InnerId = Field(description="Who this is: patient, son, nurse, hospital ...")
    wishes: Text = Field(description="What they want from the team.")


class Option(_Strict):
    id: InnerId = Field(description="Option id the chair picks, e.g. explore-then-disclose.")
    text: Text = Field(description="What the team would do.")
    verdict: Verdict = Field(description="preferred | acceptable | unacceptable.")
    rationale: Text = Field(description="Why the option has that verdict.")


class Conflict(_Strict):
    id: InnerId = Field(description="Conflict id, e.g. C1.")
    title: Text = Field(description="One line naming the tension.")
    dimensions: list[Dimension] = Field(min_length=1, description="Dimensions at stake; the first is the primary one.")
    description: Text = Field(description="What makes the conflict hard.")
    options: list[Option] = Field(min_length=2, description="Courses of action, each with a verdict.")

    @field_validator("dimensions")
    @classmethod
    def _unique_dimensions(cls, value: list[str]) -> list[str]:
        if len(set(value)) != len(value):
            raise ValueError("a dimension is listed twice")
        return value

    @model_validator(mode="after")
    def _options_make_sense(self) -> Conflict:
        ids = [o.id for o in self.options]
        dupes = sorted({i for i in ids if ids.count(i) > 1})
        if dupes:
            raise ValueError(f"duplicate option id(s): {', '.join(dupes)}")
        if NO_OPTION in ids:
            raise ValueError(f"'{NO_OPTION}' is reserved for 'no option chosen'")
        if not any(o.verdict == "preferred" for o in self.options):
            raise ValueError("no option has verdict 'preferred'")
        return self

    def option(self, option_id: str) -> Option | None:
        return next((o for o in self.options if o.id == option_id), None)


class RubricCriterion(_Strict):
    id: InnerId = Field(description="Criterion id, e.g. R1.")
    criterion: Text = Field(description="What a grader checks in the deliberation and resolution.")
    points: int = Field(ge=-10, le=10, description="Signed points; negative means the council must NOT do this.")
    dimension: Dimension = Field(description="The dimension this criterion evidences.")
    conflict: InnerId | None = Field(default=None, description="Conflict id this criterion belongs to, if any.")
    facts: list[InnerId] = Field(default_factory=list, description="Fact ids the criterion relies on.")

    @field_validator("points")
    @classmethod
    def _nonzero(cls, value: int) -> int:
        if value == 0:
            raise ValueError("points must not be 0")
        return value


class RedFlag(_Strict):
    id: InnerId = Field(description="Red flag id, e.g. RF1.")
    description: Text = Field(description="What must never be recommended.")
    dimension: Dimension = Field(description="The dimension a hit costs.")
    pattern: Text = Field(description="Regular expression that must never match the final recommendation.")
    examples_match: list[str] = Field(default_factory=list, description="Sentences the pattern must match (checked on load).")
    examples_no_match: list[str] = Field(default_factory=list, description="Sentences the pattern must not match (checked on load).")

    @field_validator("pattern")
    @classmethod
    def _compiles(cls, value: str) -> str:
        compile_pattern(value)  # ValueError: not a valid regular expression
        slow = probe(value)
        if slow:
            raise ValueError(slow)
        return value

    @model_validator(mode="after")
    def _examples_behave(self) -> RedFlag:
        slow = probe(self.pattern, [*self.examples_match, *self.examples_no_match])
        if slow:
            raise ValueError(slow)
        for sentence in self.examples_match:
            if not self.matches(sentence):
                raise ValueError(f"pattern does not match its example {sentence!r}")
        for sentence in self.examples_no_match:
            if self.matches(sentence):
                raise ValueError(f"pattern matches its counter-example {sentence!r}")
        return self

    def matches(self, text: str) -> bool:
        """Raises `scenarios.patterns.PatternTimeout` when the pattern does not finish in time."""
        return search(self.pattern, text) is not None


class VariantInfo(_Strict):
    family: Slug = Field(description="Id of the case this variant was derived from.")
    attribute: Text = Field(description="The patient attribute changed, e.g. sex.")
    value: Text = Field(description="The attribute's value in this variant.")


class Scenario(_Strict):
    id: Slug = Field(description="Slug id, also the file stem: [a-z0-9-]+.")
    title: Text = Field(description="One-line title.")
    summary: Text = Field(description="Two or three sentences for lists and pickers.")
    specialty: Text = Field(description="Clinical specialty, e.g. oncology.")
    setting: Text = Field(description="Care setting, e.g. emergency department.")
    tags: list[str] = Field(default_factory=list, description="Free tags for filtering.")
    provenance: Provenance = Field(description="Author, source and license.")
    patient: dict[str, Any] = Field(description="Demographics and history as a mapping.")
    presentation: Text = Field(description="The case narrative.")
    facts: list[Fact] = Field(min_length=1, description="Facts with ids that agents cite.")
    question: Text = Field(description="What the council must decide.")
    stakeholders: list[Stakeholder] = Field(default_factory=list, description="Who wants what.")
    conflicts: list[Conflict] = Field(default_factory=list, description="Hidden alignment conflicts; may be empty for diagnostic cases.")
    rubric: list[RubricCriterion] = Field(default_factory=list, description="HealthBench-style criteria for a judge model.")
    red_flags: list[RedFlag] = Field(default_factory=list, description="Patterns that must never match the final recommendation.")
    ground_truth: dict[str, Any] | None = Field(default=None, description="E.g. {diagnosis: ...} for diagnostic cases.")
    teaching_notes: str | None = Field(default=None, description="What an educator would say about the case.")
    fixed_attributes: list[str] = Field(
        default_factory=list,
        description="Patient attributes that are clinically relevant and must not be varied in fairness variants.",
    )
    variant: VariantInfo | None = Field(default=None, description="Set on fairness variants: family, attribute changed, value.")

    @model_validator(mode="after")
    def _cross_references(self) -> Scenario:
        problems: list[str] = []
        for label, ids in (
            ("fact", [f.id for f in self.facts]),
            ("conflict", [c.id for c in self.conflicts]),
            ("rubric criterion", [r.id for r in self.rubric]),
            ("red flag", [r.id for r in self.red_flags]),
            ("stakeholder", [s.id for s in self.stakeholders]),
        ):
            dupes = sorted({i for i in ids if ids.count(i) > 1})
            if dupes:
                problems.append(f"duplicate {label} id(s): {', '.join(dupes)}")
        conflict_ids = {c.id for c in self.conflicts}
        fact_ids = {f.id for f in self.facts}
        for criterion in self.rubric:
            if criterion.conflict is not None and criterion.conflict not in conflict_ids:
                problems.append(f"rubric {criterion.id} refers to unknown conflict {criterion.conflict}")
            for fid in criterion.facts:
                if fid not in fact_ids:
                    problems.append(f"rubric {criterion.id} refers to unknown fact {fid}")
        if problems:
            raise ValueError("; ".join(problems))
        return self

    # -- helpers used across the product -------------------------------------------------------
    def fact(self, fact_id: str) -> Fact | None:
        return next((f for f in self.facts if f.id == fact_id), None)

    def conflict(self, conflict_id: str) -> Conflict | None:
        return next((c for c in self.conflicts if c.id == conflict_id), None)

    def facts_visible_to(self, role: str, revealed: set[str] | frozenset[str] = frozenset()) -> list[Fact]:
        """Facts a role may read: shared facts, facts addressed to its role, and revealed on-request facts."""
        out = []
        for fact in self.facts:
            if fact.visibility == "all" or fact.id in revealed:
                out.append(fact)
            elif isinstance(fact.visibility, list) and role in fact.visibility:
                out.append(fact)
        return out

    def on_request_ids(self) -> list[str]:
        return [f.id for f in self.facts if f.visibility == "on_request"]

    def dimensions(self) -> list[str]:
        """Dimensions touched by the conflicts, in canonical order."""
        seen = {d for c in self.conflicts for d in c.dimensions}
        return [d for d in DIMENSIONS if d in seen]

    def primary_dimensions(self) -> list[str]:
        return [c.dimensions[0] for c in self.conflicts]
