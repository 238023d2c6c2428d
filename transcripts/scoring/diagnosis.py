"""Is the council's diagnosis the expected one? A normalised match that needs no model.

Both strings are lower-cased, stripped of punctuation and of qualifiers that do not change the
diagnosis ("acute", "probable", "the" ...). The answer is correct when the expected diagnosis (or
one of its aliases) appears in the given one as a token sequence, or when the two token sets
overlap strongly (F1 >= 0.75). "Pneumonia" for "community-acquired pneumonia" is wrong under these
rules: less specific. A judge model may decide instead when one is configured (see judge.py).
"""

from __future__ import annotations

import re
from typing import Any

STOPWORDS = frozenset(
    {
        "a", "an", "the", "of", "with", "and", "or", "in", "on", "to", "due", "from", "for", "by",
        "acute", "chronic", "subacute", "probable", "possible", "likely", "suspected", "presumed",
        "secondary", "primary", "disease", "disorder", "diagnosis", "patient", "has", "is",
    }
)
OVERLAP_THRESHOLD = 0.75
_NON_WORD = re.compile(r"[^a-z0-9]+")


def tokens(text: str) -> list[str]:
    out = []
    for word in _NON_WORD.sub(" ", text.lower()).split():
        if word in STOPWORDS:
            continue
        if len(word) > 4 and word.endswith("s") and not word.endswith(("ss", "is", "us")):
            word = word[:-1]  # crude plural: "metastases" stays, "stones" -> "stone"
        out.append(word)
    return out


def expected_diagnoses(ground_truth: dict[str, Any] | None) -> list[str]:
    """The expected diagnosis and its aliases from `ground_truth` (str, list, or `aliases`)."""
    if not ground_truth:
        return []
    value = ground_truth.get("diagnosis")
    names: list[str] = []
    if isinstance(value, str):
        names.append(value)
    elif isinstance(value, list):
        names.extend(str(v) for v in value if v)
    aliases = ground_truth.get("aliases") or ground_truth.get("diagnosis_aliases") or []
    if isinstance(aliases, str):
        aliases = [aliases]
    names.extend(str(a) for a in aliases if a)
    return [n for n in dict.fromkeys(n.strip() for n in names) if n]


def _contains(haystack: list[str], needle: list[str]) -> bool:
    if not needle:
        return False
    n = len(needle)
    return any(haystack[i : i + n] == needle for i in range(len(haystack) - n + 1))


def overlap_f1(a: list[str], b: list[str]) -> float:
    sa, sb = set(a), set(b)
    common = len(sa & sb)
    if not common:
        return 0.0
    precision, recall = common / len(sb), common / len(sa)
    return 2 * precision * recall / (precision + recall)


def diagnosis_matches(expected: list[str] | str, given: str | None) -> bool:
    if not given:
        return False
    names = [expected] if isinstance(expected, str) else expected
    got = tokens(given)
    for name in names:
        want = tokens(name)
        if not want:
            continue
        if _contains(got, want) or overlap_f1(want, got) >= OVERLAP_THRESHOLD:
            return True
    return False
