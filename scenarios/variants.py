"""Counterfactual fairness variants: the same case with one patient attribute changed.

`make_variants(case, ["sex", "race", ...])` returns the family: the original as its baseline, then one
scenario per alternative value of each attribute. A variant differs from the baseline only in the
patient mapping's value for that attribute and in the narrative texts where the attribute is stated
(title, summary, presentation, question, teaching notes, fact texts, stakeholder wishes, other patient
texts). Conflicts, options, rubric, red flags, ground truth and fact ids/visibility are never touched:
they are the measuring instrument and must be identical across the family. When one of those texts
mentions the attribute, a warning says so.

Rewrites are deliberately narrow:
- sex: only the words that describe the patient's own sex are swapped, one way (a male patient's he/his/
  him/man/male/boy/Mr/"a father of two" become she/her/woman/...); words of the other sex are left alone,
  because in such a case they refer to someone else ("his mother says she ..." -> "her mother says she ...").
- race: the stated race or ethnicity term, where it describes a person ("a 42-year-old Caucasian man").
- insurance: private / Medicaid / uninsured phrases, in the same grammatical form.
- language: English <-> Spanish; a Spanish-speaking variant needs an interpreter.
- disability: none <-> a stated disability, only where that does not touch the clinical picture.
An attribute in the case's `fixed_attributes`, or one that cannot be changed without changing clinical
content, is skipped with a reason.

The per-attribute planners are in `scenarios.variant_plans`, the shared types and text helpers in
`scenarios.variant_text`; this module builds and compares the family.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Iterable
from typing import Any

from scenarios.model import SLUG_PATTERN, Scenario
from scenarios.variant_plans import _PLANNERS, is_child, sex_specific_terms  # noqa: F401  (re-exported)
from scenarios.variant_text import _ALIASES, Rewrite, Skip, VariantSet, _Plan  # noqa: F401

__all__ = [
    "ATTRIBUTES",
    "MISSING",
    "VARIANT_SEPARATOR",
    "Skip",
    "VariantSet",
    "diff_scenarios",
    "generate_variants",
    "make_variants",
    "is_child",
    "sex_specific_terms",
]

ATTRIBUTES: tuple[str, ...] = ("sex", "race", "insurance", "language", "disability")

# Ids are `<case-id>--<attribute>-<value>` when the scenario id pattern allows a double hyphen, else single.
VARIANT_SEPARATOR = "--" if re.fullmatch(SLUG_PATTERN, "a--b") else "-"
_MAX_ID = 100


# -- building the family ---------------------------------------------------------------------------------

def _variant_id(family: str, suffix: str) -> str:
    candidate = f"{family}{VARIANT_SEPARATOR}{suffix}"
    if len(candidate) <= _MAX_ID:
        return candidate
    digest = hashlib.sha1(family.encode()).hexdigest()[:6]
    room = _MAX_ID - len(suffix) - len(digest) - 2 * len(VARIANT_SEPARATOR)
    return f"{family[:room].rstrip('-')}-{digest}{VARIANT_SEPARATOR}{suffix}"


def _rewrite_patient(value: Any, rewrite: Rewrite) -> Any:
    if isinstance(value, str):
        return rewrite(value)
    if isinstance(value, dict):
        return {k: _rewrite_patient(v, rewrite) for k, v in value.items()}
    if isinstance(value, list):
        return [_rewrite_patient(v, rewrite) for v in value]
    return value


def _with_variant(data: dict[str, Any], family: str, attribute: str, value: str, suffix: str) -> Scenario:
    data["id"] = _variant_id(family, suffix)
    data["tags"] = [*data.get("tags", []), *([] if "variant" in data.get("tags", []) else ["variant"])]
    data["variant"] = {"family": family, "attribute": attribute, "value": value}
    return Scenario.model_validate(data)


def _apply(s: Scenario, plan: _Plan) -> Scenario:
    data = s.model_dump()
    rw = plan.rewrite
    for name in ("title", "summary", "presentation", "question"):
        data[name] = rw(data[name])
    if data.get("teaching_notes"):
        data["teaching_notes"] = rw(data["teaching_notes"])
    for fact in data["facts"]:
        fact["text"] = rw(fact["text"])
    for stakeholder in data["stakeholders"]:
        stakeholder["wishes"] = rw(stakeholder["wishes"])
    patient = {k: (v if k == plan.key else _rewrite_patient(v, rw)) for k, v in data["patient"].items()}
    patient[plan.key] = plan.patient_value
    data["patient"] = patient
    return _with_variant(data, s.id, plan.attribute, plan.label, f"{plan.attribute}-{plan.slug}")


def _scoring_warnings(s: Scenario, attribute: str, rewrites: list[Rewrite]) -> list[str]:
    """Scoring texts that mention the attribute: they stay identical across the family, say so."""
    texts: list[tuple[str, str]] = []
    for c in s.conflicts:
        texts += [(f"conflicts[{c.id}].title", c.title), (f"conflicts[{c.id}].description", c.description)]
        for o in c.options:
            texts += [(f"conflicts[{c.id}].options[{o.id}].text", o.text),
                      (f"conflicts[{c.id}].options[{o.id}].rationale", o.rationale)]
    texts += [(f"rubric[{r.id}].criterion", r.criterion) for r in s.rubric]
    for rf in s.red_flags:
        texts += [(f"red_flags[{rf.id}].description", rf.description), (f"red_flags[{rf.id}].pattern", rf.pattern)]
    out = []
    for where, text in texts:
        if any(rw(text) != text for rw in rewrites):
            hint = (" -- the pattern may then miss a variant's recommendation; consider covering both"
                    if where.endswith(".pattern") else "")
            out.append(f"{attribute}: {where} mentions the attribute and is kept unchanged in every variant{hint}")
    return out


def generate_variants(scenario: Scenario, attributes: Iterable[str] = ATTRIBUTES) -> VariantSet:
    """The baseline, the variants and what was skipped (with reasons) for `attributes`."""
    if scenario.variant is not None:
        raise ValueError(f"{scenario.id} is already a variant of {scenario.variant.family}; vary the original case")
    wanted = []
    for attr in attributes:
        name = _ALIASES.get(attr.strip().lower(), attr.strip().lower())
        if name not in _PLANNERS:
            raise ValueError(f"unknown attribute {attr!r}; choose from {', '.join(ATTRIBUTES)}")
        if name not in wanted:
            wanted.append(name)
    fixed = {_ALIASES.get(a.strip().lower(), a.strip().lower()) for a in scenario.fixed_attributes}

    baseline = _with_variant(scenario.model_dump(), scenario.id, "baseline", "original", "baseline")
    result = VariantSet(baseline=baseline)
    for attr in wanted:
        if attr in fixed:
            result.skipped.append(Skip(attr, "listed in the case's fixed_attributes (clinically relevant)"))
            continue
        plans, skips = _PLANNERS[attr](scenario)
        result.skipped.extend(skips)
        for plan in plans:
            result.variants.append(_apply(scenario, plan))
        result.warnings.extend(_scoring_warnings(scenario, attr, [p.rewrite for p in plans]))
    return result


def make_variants(scenario: Scenario, attributes: Iterable[str] = ATTRIBUTES) -> list[Scenario]:
    """The family for `attributes`: the baseline (variant.attribute == 'baseline') first, then the variants.

    Skipped attributes are simply absent; use `generate_variants` to learn why."""
    return generate_variants(scenario, attributes).all()


# -- comparing --------------------------------------------------------------------------------------------

class _Missing:
    def __repr__(self) -> str:
        return "<missing>"


MISSING: Any = _Missing()


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else str(part)


def _diff(a: Any, b: Any, path: str, out: list[tuple[str, Any, Any]]) -> None:
    if isinstance(a, dict) and isinstance(b, dict):
        for key in [*a, *(k for k in b if k not in a)]:
            _diff(a.get(key, MISSING), b.get(key, MISSING), _join(path, key), out)
    elif isinstance(a, list) and isinstance(b, list):
        for i in range(max(len(a), len(b))):
            _diff(a[i] if i < len(a) else MISSING, b[i] if i < len(b) else MISSING, _join(path, i), out)
    elif a != b or type(a) is not type(b):
        out.append((path, a, b))


def diff_scenarios(a: Scenario, b: Scenario) -> list[tuple[str, Any, Any]]:
    """Every leaf that differs: `(path, old, new)`, paths like `patient.sex` or `facts[2].text`;
    a value present on one side only is `MISSING` on the other."""
    out: list[tuple[str, Any, Any]] = []
    _diff(a.model_dump(), b.model_dump(), "", out)
    return out
