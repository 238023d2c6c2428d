"""Finding the JSON object in what a model wrote: models wrap it in prose or ``` fences.

One implementation for every reader of model text: the deliberation (turns, resolutions, the
chair's decisions) and the judge's replies.
"""

from __future__ import annotations

import re

__all__ = ["extract_json", "json_candidates"]

_FENCED = re.compile(r"```(?:json)?\s*(\{.*?\})\s*```", re.S)


def _outermost(text: str) -> str | None:
    """From the first `{` to the last `}`, or None when there is no such span."""
    start, end = text.find("{"), text.rfind("}")
    return text[start : end + 1] if start >= 0 and end > start else None


def json_candidates(text: str) -> list[str]:
    """Where the object may be, most likely first: the whole text, a fenced block, the outermost braces."""
    if not text:
        return []
    candidates = [text.strip()]
    fenced = _FENCED.search(text)
    if fenced:
        candidates.append(fenced.group(1))
    outer = _outermost(text)
    if outer is not None:
        candidates.append(outer)
    return candidates


def extract_json(text: str) -> str:
    """The text to validate as one object: the text itself when it starts with `{`, else the outermost
    braces, else the text unchanged (so the validator reports what was wrong)."""
    text = text.strip()
    if text.startswith("{"):
        return text
    return _outermost(text) or text
