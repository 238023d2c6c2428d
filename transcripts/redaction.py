"""Secrets out of everything grandrounds writes: transcripts, the reply cache, logs, error messages.

`redact_secrets(text)` removes API keys, bearer tokens, `api_key=...`-style values and the values of
environment variables named like *KEY*, *TOKEN*, *SECRET*, *PASSWORD*. The gateway's `redact` (error
messages) is this plus a length cap; `TranscriptWriter` and the reply cache apply it to every string
they store, so a provider or proxy that echoes the bearer token in a 200 reply leaves no copy on disk.
"""

from __future__ import annotations

import json
import os
import re
from typing import Any

__all__ = ["REDACTED", "has_secret", "redact_secrets", "redact_value", "redacted_json", "secret_values"]

_SECRET_NAME = re.compile(r"KEY|TOKEN|SECRET|PASSWORD", re.IGNORECASE)
_SECRET_PATTERNS = (
    re.compile(r"\bsk-[A-Za-z0-9_\-]{6,}"),
    re.compile(r"(?i)\bbearer\s+[A-Za-z0-9._~+/=\-]{6,}"),
    re.compile(r"(?i)((?:api[_-]?key|x-api-key|access[_-]?token|authorization)[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]{6,}"),
    re.compile(r"\b(?:AIza[0-9A-Za-z_\-]{20,}|gh[pousr]_[A-Za-z0-9]{20,}|hf_[A-Za-z0-9]{20,}|AKIA[0-9A-Z]{16})\b"),
)
REDACTED = "[redacted]"


def secret_values() -> list[str]:
    """Values of secret-named environment variables (6 characters or more), longest first."""
    # Every run's writer asks; decoding and matching the whole environment took ~40 us. The answer is
    # kept with a copy of the environment's raw mapping and reused while that compares equal (~1 us),
    # so a variable set, changed or removed since (os.environ, monkeypatch) is seen at once.
    raw = getattr(os.environ, "_data", None)
    if isinstance(raw, dict) and _SECRETS[0] == raw:
        return list(_SECRETS[1])
    values = sorted({v for k, v in os.environ.items() if _SECRET_NAME.search(k) and len(v) >= 6}, key=len, reverse=True)
    if isinstance(raw, dict):
        _SECRETS[:] = [dict(raw), values]
    return list(values)


_SECRETS: list[Any] = [None, []]  # [the environment's raw mapping when last read, its secret values]


def redact_secrets(text: str, values: list[str] | None = None) -> str:
    """`text` with every secret replaced by `[redacted]` (no length cap)."""
    text = str(text)
    for value in secret_values() if values is None else values:
        if value in text:
            text = text.replace(value, REDACTED)
    for pattern in _SECRET_PATTERNS:
        if pattern.groups:
            text = pattern.sub(lambda m: m.group(1) + REDACTED, text)
        else:
            text = pattern.sub(REDACTED, text)
    return text


# Every pattern above needs one of these substrings (matched on the lower-cased text, or as is for
# the case-sensitive key prefixes, or "sk-" at a word start): substring tests are far cheaper than
# the regexes on a 30 KB line.
_LOWER_MARKERS = ("bearer", "apikey", "api_key", "api-key", "accesstoken", "access_token", "access-token", "authorization")
_EXACT_MARKERS = ("AIza", "ghp_", "gho_", "ghu_", "ghs_", "ghr_", "hf_", "AKIA")


def has_secret(text: str, values: list[str] | None = None) -> bool:
    """Cheap check: could `text` (e.g. a JSON line) hold a secret? A superset of what redaction changes."""
    values = secret_values() if values is None else values
    return _has_secret(text, values, [json.dumps(v, ensure_ascii=False)[1:-1] for v in values])


def _has_secret(text: str, values: list[str], escaped: list[str]) -> bool:
    for value, in_json in zip(values, escaped):
        if value in text or in_json in text:
            return True
    if any(m in text for m in _EXACT_MARKERS) or _key_prefix_at_word_start(text):
        return True
    lower = text.lower()
    return any(m in lower for m in _LOWER_MARKERS)


def _key_prefix_at_word_start(text: str) -> bool:
    """"sk-" where the first pattern could match it: at the start of a word (`\\bsk-`), so "risk-benefit"
    (in many case texts) does not send every line of its run through the regexes."""
    at = text.find("sk-")
    while at != -1:
        if at == 0 or not (text[at - 1].isalnum() or text[at - 1] == "_"):
            return True
        at = text.find("sk-", at + 3)
    return False


def redact_value(value: Any, values: list[str] | None = None) -> Any:
    """A JSON-like value (dicts, lists, strings) with every string redacted."""
    if values is None:
        values = secret_values()
    if isinstance(value, str):
        return redact_secrets(value, values)
    if isinstance(value, list):
        return [redact_value(v, values) for v in value]
    if isinstance(value, dict):
        return {redact_value(k, values): redact_value(v, values) for k, v in value.items()}
    return value


def redacted_json(line: str, values: list[str] | None = None) -> str:
    """A JSON text with every string in it redacted (unchanged when nothing looks secret).
    `values`: `secret_values()` taken once by the caller (a writer, per run), else read now."""
    values = secret_values() if values is None else values
    if not _may_hold_secret(line, values):
        return line
    if not any(v in line or json.dumps(v, ensure_ascii=False)[1:-1] in line for v in values) and not any(p.search(line) for p in _SECRET_PATTERNS):
        return line  # a marker like "risk-" or "prior authorization", but no secret
    return json.dumps(redact_value(json.loads(line), values), ensure_ascii=False, separators=(",", ":"))


# Pieces of JSON lines (the text between two double quotes) known to hold no marker and no secret
# value, for the secret values they were checked against. A transcript repeats most of its text from
# line to line and run to run (the case, option texts, a scripted model's phrases), so a writer
# checks each piece once instead of scanning every whole line for every marker (~60 us a turn event).
_CLEAN_PIECES: set[str] = set()
_CLEAN_FOR: list[tuple[str, ...]] = [()]
_CLEAN_MAX = 8_000  # bounded: a few hundred kB
_SHORTEST_NEEDLE = 3  # "sk-", "hf_"; secret values have 6 characters or more


def _may_hold_secret(line: str, values: list[str]) -> bool:
    """`has_secret(line, values)`, answered piece by piece with a cache. Equivalent: no marker and no
    (JSON-escaped) secret value contains a double quote, so none can span two pieces; a secret value
    with a quote in it turns the cache off."""
    key = tuple(values)
    if any('"' in v for v in values):
        return has_secret(line, values)
    if _CLEAN_FOR[0] != key:
        _CLEAN_PIECES.clear()
        _CLEAN_FOR[0] = key
    clean = _CLEAN_PIECES
    unseen = set(line.split('"')).difference(clean)  # a few per line (its time stamp, new phrases)
    if not unseen:
        return False
    escaped = [json.dumps(v, ensure_ascii=False)[1:-1] for v in values]
    if len(clean) + len(unseen) > _CLEAN_MAX:
        clean.clear()
    for piece in unseen:
        if len(piece) >= _SHORTEST_NEEDLE and _has_secret(piece, values, escaped):
            return True
        clean.add(piece)
    return False
