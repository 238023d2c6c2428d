"""Red-flag patterns: user input run against model output, so every match is bounded in time.

Patterns are compiled and run with the `regex` package (re-compatible syntax, lookbehinds included)
and its `timeout=`: a pattern that backtracks catastrophically cannot hang validation or scoring.

- `compile_pattern(p)`: the compiled pattern, or `ValueError` with a one-line reason.
- `search(p, text)`: a match or None; `PatternTimeout` when the bound is hit (the caller records the
  red flag as "not checked", never as clear).
- `probe(p)`: a one-line reason when the pattern is too slow on a few adversarial strings built from
  its own characters (the nested-quantifier shapes), else None. Validation refuses such patterns.
"""

from __future__ import annotations

from functools import lru_cache

import regex

__all__ = ["MATCH_TIMEOUT_S", "PROBE_TIMEOUT_S", "PatternTimeout", "compile_pattern", "probe", "search"]

MATCH_TIMEOUT_S = 0.5  # one final recommendation (a few KB): benign patterns take microseconds
PROBE_TIMEOUT_S = 0.05  # one short example or probe string, at validation
_PROBE_LENGTH = 40


class PatternTimeout(Exception):
    """A pattern did not finish within its time bound."""

    def __init__(self, pattern: str, seconds: float) -> None:
        self.pattern, self.seconds = pattern, seconds
        super().__init__(f"pattern took longer than {seconds:g} s (catastrophic backtracking?)")


@lru_cache(maxsize=512)
def compile_pattern(pattern: str) -> regex.Pattern[str]:
    try:
        return regex.compile(pattern)
    except regex.error as exc:
        raise ValueError(f"not a valid regular expression: {exc}") from None
    except (OverflowError, RecursionError, MemoryError) as exc:  # e.g. a{99999999999}
        raise ValueError(f"not a usable regular expression: {type(exc).__name__}") from None


def search(pattern: str, text: str, timeout: float = MATCH_TIMEOUT_S) -> regex.Match[str] | None:
    rx = compile_pattern(pattern)
    try:
        return rx.search(text, timeout=timeout)
    except TimeoutError:
        raise PatternTimeout(pattern, timeout) from None


def _probe_strings(pattern: str) -> list[str]:
    chars = [c for c in dict.fromkeys(pattern) if c.isalnum()][:8] or ["a"]
    units = [*chars, "a", "x", "1", " ", "a ", "ab ", "a1", "aA"]
    if len(chars) > 1:
        units.append("".join(chars[:4]) + " ")
    out = []
    for unit in dict.fromkeys(units):
        body = unit * max(1, _PROBE_LENGTH // len(unit))
        out += [body + "!", body + "\n"]
    return out


def probe(pattern: str, examples: tuple[str, ...] | list[str] = ()) -> str | None:
    """Why the pattern cannot be bounded (too slow on an example or a probe string), or None."""
    rx = compile_pattern(pattern)
    for sentence in examples:
        try:
            rx.search(sentence, timeout=PROBE_TIMEOUT_S * 4)
        except TimeoutError:
            return f"pattern takes longer than {PROBE_TIMEOUT_S * 4:g} s on its example {sentence[:40]!r} (catastrophic backtracking: avoid nested quantifiers like (a+)+)"
    for text in _probe_strings(pattern):
        try:
            rx.search(text, timeout=PROBE_TIMEOUT_S)
        except TimeoutError:
            return f"pattern takes longer than {PROBE_TIMEOUT_S:g} s on {text[:12]!r}... ({len(text)} characters): catastrophic backtracking; avoid nested quantifiers like (a+)+ or (a|aa)+"
    return None
