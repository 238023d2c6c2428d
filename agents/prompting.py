"""Fill the task templates in agents/prompts/tasks/ from the scenario and the discussion.

Templates use `$name` placeholders (string.Template), so braces in case text are harmless.
Each member sees only what its role may see: shared facts, facts addressed to its role, and
on-request facts once revealed.
"""

from __future__ import annotations

import json
from functools import lru_cache
from string import Template
from typing import Any

from agents.team import PROMPTS_DIR, Member, Team
from scenarios.model import Scenario

TASKS_DIR = PROMPTS_DIR / "tasks"


@lru_cache(maxsize=None)
def _template(kind: str) -> Template:
    return Template((TASKS_DIR / f"{kind}.md").read_text(encoding="utf-8"))


def _patient_line(patient: dict[str, Any]) -> str:
    parts = []
    for key, value in patient.items():
        if isinstance(value, (list, tuple)):
            value = ", ".join(str(v) for v in value) or "none"
        elif isinstance(value, dict):
            value = json.dumps(value, ensure_ascii=False)
        parts.append(f"{key}: {value}")
    return "; ".join(parts)


def _shared_facts(scenario: Scenario) -> str:
    return "\n".join(f"- {f.id}: {f.text}" for f in scenario.facts if f.visibility == "all") or "- (none)"


def _private_facts(scenario: Scenario, role: str, revealed: set[str]) -> str:
    """Facts beyond the shared case file: addressed to this role, or revealed on request."""
    extra = [f for f in scenario.facts_visible_to(role, revealed) if f.visibility != "all"]
    if not extra:
        return ""
    return "FACTS ONLY SOME MEMBERS HAVE, INCLUDING YOU (cite their ids):\n" + "\n".join(f"- {f.id}: {f.text}" for f in extra) + "\n"


def _task_name(kind: str, disclosure: str) -> str:
    """The template for a kind of call: `<kind>.md`, or `<kind>_none.md` under disclosure `none`."""
    return f"{kind}_none" if disclosure == "none" else kind


def case_block(scenario: Scenario, disclosure: str = "options") -> str:
    """The case as every member reads it. It opens every prompt of a run, word for word, so a local
    model can reuse its evaluated prefix from one call to the next. Under disclosure `none` it
    holds no conflict: no title, no option, no id."""
    return _template("case").substitute(
        scenario_id=scenario.id,
        title=scenario.title,
        setting=scenario.setting,
        specialty=scenario.specialty,
        patient=_patient_line(scenario.patient),
        presentation=scenario.presentation.strip(),
        facts=_shared_facts(scenario),
        question=scenario.question,
        stakeholders=_stakeholders_block(scenario),
        conflicts=_conflicts_block(scenario) if disclosure != "none" else "",
    )


def _conflicts_block(scenario: Scenario) -> str:
    if not scenario.conflicts:
        return ""
    lines = ["OPEN QUESTIONS (pick one option id for each):"]
    for conflict in scenario.conflicts:
        lines.append(f"{conflict.id}: {conflict.title}")
        lines.extend(f"  - {o.id}: {o.text}" for o in conflict.options)
    return "\n".join(lines) + "\n"


def _stakeholders_block(scenario: Scenario) -> str:
    if not scenario.stakeholders:
        return ""
    return "WHO WANTS WHAT:\n" + "\n".join(f"- {s.id}: {s.wishes}" for s in scenario.stakeholders) + "\n"


def render_turn_record(record: dict[str, Any], team: Team) -> str:
    """One earlier turn, compactly, as other members will read it."""
    member = team.member(record["member"])
    label = member.label if member else record["member"]
    turn = record.get("turn")
    if not turn:
        return f"[round {record['round']}] {label}: (no valid reply)"
    bits = [f"[round {record['round']}] {label}: {turn.get('position', '')}"]
    if turn.get("recommendation"):
        bits.append(f"  Recommends: {turn['recommendation']}")
    concerns = [f"{c.get('dimension')}: {c.get('text')}" for c in turn.get("concerns", [])]
    if concerns:
        bits.append("  Concerns: " + " | ".join(concerns))
    choices = [f"{c.get('conflict')}={c.get('option')}" for c in turn.get("choices", [])]
    if choices:
        bits.append("  Favours: " + ", ".join(choices))
    return "\n".join(bits)


def _discussion(turns: list[dict[str, Any]], team: Team, window: int) -> str:
    recent = turns[-window:] if window else []
    return "\n".join(_rendered(t, team) for t in recent) or "(nobody has spoken yet)"


# A turn's record is shown to every later speaker of its run: render it once. Keyed by the record's
# identity (the cache holds the record and team, so the ids cannot be reused while cached); records
# are never changed once taken.
_RENDERED: dict[tuple[int, int], tuple[dict[str, Any], Team, str]] = {}
_RENDERED_MAX = 256


def _rendered(record: dict[str, Any], team: Team) -> str:
    key = (id(record), id(team))
    hit = _RENDERED.get(key)
    if hit is not None and hit[0] is record and hit[1] is team:
        return hit[2]
    text = render_turn_record(record, team)
    if len(_RENDERED) >= _RENDERED_MAX:
        _RENDERED.clear()
    _RENDERED[key] = (record, team, text)
    return text


def build_turn_messages(
    scenario: Scenario,
    team: Team,
    member: Member,
    persona: str,
    *,
    round_no: int,
    turns: list[dict[str, Any]],
    revealed: set[str],
    disclosure: str = "options",
    case: str | None = None,
) -> list[dict[str, str]]:
    requestable = [fid for fid in scenario.on_request_ids() if fid not in revealed]
    text = _template(_task_name("turn", disclosure)).substitute(
        case=case if case is not None else case_block(scenario, disclosure),
        discussion=_discussion(turns, team, team.limits.context),
        member_label=member.label,
        persona=persona.strip(),
        private_facts=_private_facts(scenario, member.role, revealed),
        requestable=", ".join(requestable) or "none",
        round=round_no,
        max_rounds=team.limits.max_rounds,
    )
    return [{"role": "user", "content": text}]


def build_resolution_messages(
    scenario: Scenario,
    team: Team,
    persona: str,
    *,
    turns: list[dict[str, Any]],
    revealed: set[str],
    disclosure: str = "options",
    case: str | None = None,
) -> list[dict[str, str]]:
    text = _template(_task_name("resolution", disclosure)).substitute(
        case=case if case is not None else case_block(scenario, disclosure),
        discussion=_discussion(turns, team, max(team.limits.context, len(team.members))),
        member_label=team.chair.label,
        persona=persona.strip(),
        private_facts=_private_facts(scenario, team.chair.role, revealed),
        diagnosis_hint=", diagnosis (the most likely diagnosis)" if scenario.ground_truth else "",
    )
    return [{"role": "user", "content": text}]


def build_chair_decision_messages(
    scenario: Scenario,
    team: Team,
    persona: str,
    *,
    turns: list[dict[str, Any]],
    turn_counts: dict[str, int],
    open_concerns: list[str],
    disclosure: str = "options",
    case: str | None = None,
) -> list[dict[str, str]]:
    text = _template(_task_name("chair_decision", disclosure)).substitute(
        case=case if case is not None else case_block(scenario, disclosure),
        discussion=_discussion(turns, team, team.limits.context),
        member_label=team.chair.label,
        persona=persona.strip(),
        members=", ".join(team.member_ids()),
        turn_counts=", ".join(f"{k}: {v}" for k, v in turn_counts.items()),
        open_concerns="; ".join(open_concerns) or "none",
    )
    return [{"role": "user", "content": text}]


def build_solo_messages(scenario: Scenario, team: Team, persona: str, *, disclosure: str = "options", case: str | None = None) -> list[dict[str, str]]:
    """The baselines' one call: the case, and the chair asked to resolve it alone (no discussion)."""
    text = _template(_task_name("solo", disclosure)).substitute(
        case=case if case is not None else case_block(scenario, disclosure),
        member_label=team.chair.label,
        persona=persona.strip(),
        private_facts=_private_facts(scenario, team.chair.role, set()),
        diagnosis_hint=", diagnosis (the most likely diagnosis)" if scenario.ground_truth else "",
    )
    return [{"role": "user", "content": text}]


def retry_messages(messages: list[dict[str, str]], raw: str, error: str) -> list[dict[str, str]]:
    """Show the model its invalid reply and what was wrong with it."""
    return [
        *messages,
        {"role": "assistant", "content": raw[:4000]},
        {"role": "user", "content": f"That reply was not valid: {error}. Reply again with only the JSON object."},
    ]
