"""What the variant builders share: the patient keys per attribute, the results (`Skip`,
`VariantSet`), a variant's plan, and the text helpers (see scenarios.variants)."""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from scenarios.model import Scenario

# Patient-mapping keys that hold each attribute (matched case-insensitively); the first is used when adding.
_KEYS: dict[str, tuple[str, ...]] = {
    "sex": ("sex", "gender"),
    "race": ("race", "ethnicity", "race_ethnicity", "race/ethnicity"),
    "insurance": ("insurance", "insurance_status", "payer"),
    "language": ("language", "primary_language", "preferred_language"),
    "disability": ("disability", "disabilities"),
}
_ALIASES = {alias: attr for attr, keys in _KEYS.items() for alias in keys}

Rewrite = Callable[[str], str]


# -- results --------------------------------------------------------------------------------------------

@dataclass(frozen=True)
class Skip:
    """An attribute (or one of its values) that was not varied, and why."""

    attribute: str
    reason: str
    value: str | None = None

    def __str__(self) -> str:
        what = f"{self.attribute}={self.value}" if self.value else self.attribute
        return f"{what}: skipped: {self.reason}"


@dataclass
class VariantSet:
    baseline: Scenario
    variants: list[Scenario] = field(default_factory=list)
    skipped: list[Skip] = field(default_factory=list)
    warnings: list[str] = field(default_factory=list)

    def all(self) -> list[Scenario]:
        return [self.baseline, *self.variants]


@dataclass(frozen=True)
class _Plan:
    attribute: str
    key: str
    slug: str
    label: str
    patient_value: Any
    rewrite: Rewrite


# -- shared text helpers --------------------------------------------------------------------------------

def _match_case(source: str, word: str) -> str:
    if len(source) > 1 and source.isupper():
        return word.upper()
    if source[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def _next_word(text: str, end: int) -> str:
    m = re.match(r"\s*([A-Za-z][\w'-]*|\S)?", text[end:])
    return (m.group(1) or "") if m else ""


def _narrative(s: Scenario) -> list[str]:
    """Every text a variant may rewrite, for detection."""
    texts = [s.title, s.summary, s.presentation, s.question, s.teaching_notes or ""]
    texts += [f.text for f in s.facts] + [st.wishes for st in s.stakeholders]
    texts += list(_strings(s.patient))
    return [t for t in texts if t]


def _strings(value: Any) -> Iterable[str]:
    if isinstance(value, str):
        yield value
    elif isinstance(value, dict):
        for v in value.values():
            yield from _strings(value=v)
    elif isinstance(value, list):
        for v in value:
            yield from _strings(v)


def _patient_key(s: Scenario, attribute: str) -> str | None:
    wanted = {k.lower() for k in _KEYS[attribute]}
    return next((k for k in s.patient if str(k).lower() in wanted), None)


def _stated(s: Scenario, key: str | None) -> Any:
    return None if key is None else s.patient.get(key)
