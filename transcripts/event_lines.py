"""An event as its transcript line: the JSON pydantic writes for it, secrets redacted.

`run_started` embeds the scenario and the team (about 15 kB, a quarter of a default run's
transcript), and every run of a batch embeds the same ones. Their JSON text, serialised by the
same pydantic serializer and checked for secrets, is kept per content and spliced after the
event's other fields (they are its last two, in that order), so the line is byte for byte the one
`model_dump_json` gives, without serialising and scanning those 15 kB again for every run.
"""

from __future__ import annotations

from typing import Any

from pydantic import TypeAdapter

from transcripts.events import Event, RunStarted
from transcripts.redaction import redacted_json

__all__ = ["event_line"]

_ANY_DICT = TypeAdapter(dict[str, Any])  # how RunStarted serialises its `scenario` and `team` fields
_TAIL = ("scenario", "team")
assert tuple(RunStarted.model_fields)[-2:] == _TAIL, "event_line splices these two fields last, in this order"

# The JSON of an embedded dict (None: it holds a secret), keyed by what identifies its content: its keys and the
# identity of its values (pydantic copies the top-level dict of a field but keeps the values, which
# the runs of a batch share and nothing changes in place), and the secret values it was checked
# against. The entry holds the values, so their ids cannot be reused while cached.
_EMBEDDED: dict[tuple[Any, ...], tuple[list[Any], str | None]] = {}
_EMBEDDED_MAX = 64


def event_line(event: Event, secrets: list[str]) -> str:
    """The line for `event` (no newline), every secret in it redacted."""
    if not isinstance(event, RunStarted):
        return redacted_json(event.model_dump_json(exclude_none=False), secrets)
    plain = event.model_dump_json(exclude_none=False, exclude=set(_TAIL))
    head, scenario, team = redacted_json(plain, secrets), _embedded(event.scenario, secrets), _embedded(event.team, secrets)
    if head is not plain or scenario is None or team is None:  # a secret: redact the whole line, as always
        return redacted_json(event.model_dump_json(exclude_none=False), secrets)
    return f'{head[:-1]},"scenario":{scenario},"team":{team}}}'


def _embedded(data: dict[str, Any], secrets: list[str]) -> str | None:
    """The JSON of `data`, or None when it holds a secret."""
    values = list(data.values())
    key = (tuple(data), tuple(map(id, values)), tuple(secrets))
    hit = _EMBEDDED.get(key)
    if hit is not None and all(a is b for a, b in zip(hit[0], values)):
        return hit[1]
    plain = _ANY_DICT.dump_json(data).decode("utf-8")
    text = plain if redacted_json(plain, secrets) is plain else None
    if len(_EMBEDDED) >= _EMBEDDED_MAX:
        _EMBEDDED.clear()
    _EMBEDDED[key] = (values, text)
    return text
