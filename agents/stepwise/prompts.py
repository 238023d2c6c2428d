"""Step prompts: the templates in agents/prompts/steps/, filled from the scenario.

Every step prompt is three parts, in this order, so that a local model reuses its evaluated prefix:
the case (`case.md`, the same for every step of a run: shared facts only, and, when the options are
disclosed, every conflict's options, so that the steps that choose among them need not repeat them
and a local model evaluates them once per run), the speaker (`member.md`:
the persona's first paragraph and the facts only this role may see), then the step itself. A role's
facts come from `Scenario.facts_visible_to` (shared, addressed to the role, or on request once
revealed), the same rule as the whole-turn prompt, and no other fact text enters a step.
"""

from __future__ import annotations

from functools import lru_cache
from string import Template
from typing import Any

from agents.team import PROMPTS_DIR
from scenarios.model import Scenario

STEPS_DIR = PROMPTS_DIR / "steps"


@lru_cache(maxsize=None)
def template(name: str) -> Template:
    return Template((STEPS_DIR / f"{name}.md").read_text(encoding="utf-8"))


def fill(name: str, **values: Any) -> str:
    return template(name).substitute({k: "" if v is None else str(v) for k, v in values.items()}).strip("\n") + "\n"


def case_prefix(scenario: Scenario, disclosed: bool = True) -> str:
    shared = "\n".join(f"- {f.id}: {f.text}" for f in scenario.facts if f.visibility == "all") or "- (none)"
    questions = "\n".join(f"Question {c.id}: {c.title}\nOptions:\n{options_block(c)}" for c in scenario.conflicts) if disclosed else ""
    return fill(
        "case", title=scenario.title, presentation=scenario.presentation.strip(), facts=shared, question=scenario.question,
        questions=questions,
    )


def persona_brief(persona: str) -> str:
    """The persona's first paragraph: who the member is, in a sentence or two."""
    for block in (persona or "").strip().split("\n\n"):
        if block.strip():
            return " ".join(block.split())
    return ""


def private_facts(scenario: Scenario, role: str, revealed: set[str]) -> list[tuple[str, str]]:
    return [(f.id, f.text) for f in scenario.facts_visible_to(role, revealed) if f.visibility != "all"]


def member_block(scenario: Scenario, role: str, label: str, persona: str, revealed: set[str]) -> str:
    extra = private_facts(scenario, role, revealed)
    lines = "Facts only some members have, including you:\n" + "\n".join(f"- {fid}: {text}" for fid, text in extra) if extra else ""
    brief = persona_brief(persona)
    # A persona that introduces itself ("You are the chair of ...") needs no second introduction.
    who = brief if brief.lower().startswith("you are") else f"You are the {label}. {brief}".strip()
    return fill("member", persona=who, private_facts=lines)


def options_block(conflict: Any) -> str:
    return "\n".join(f"- {o.id}: {o.text}" for o in conflict.options)


def quote(text: str, limit: int = 240) -> str:
    """Earlier text shown in a prompt, on one line and bounded (a quotation, never rewritten)."""
    text = " ".join((text or "").split()).replace('"', "'")
    return text if len(text) <= limit else text[:limit].rsplit(" ", 1)[0] + " ..."
