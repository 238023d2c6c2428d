"""Which model a run is "on": one rule for the runs table's model column, `compare --by model` and
every screen that names a run's model.

The rule: the model given for the whole run (`settings.model_override`, e.g. `--model`, or
`settings.model`) when there is one; otherwise the model most of the team's roles use, ties broken
in favour of the chair's model, then by the first role (in the team's order) using a tied model.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from transcripts.events import RunStarted

__all__ = ["main_model", "main_model_of"]


def main_model_of(models: dict[str, Any], settings: dict[str, Any] | None = None, chair: str | None = None) -> str:
    """The rule above, from the parts of a `run_started` event (each may be missing or malformed)."""
    settings = settings if isinstance(settings, dict) else {}
    override = settings.get("model_override") or settings.get("model")
    if isinstance(override, str) and override:
        return override
    models = models if isinstance(models, dict) else {}
    values = [m for m in models.values() if isinstance(m, str)]
    if not values:
        return ""
    counts = Counter(values)
    best = max(counts.values())
    if chair and counts.get(models.get(chair, ""), 0) == best:
        return str(models[chair])
    return next(m for m in values if counts[m] == best)


def main_model(started: RunStarted) -> str:
    """The model a run is shown and grouped under (see the module docstring)."""
    team = started.team if isinstance(started.team, dict) else {}
    chair_entry = team.get("chair")
    chair = chair_entry.get("role") if isinstance(chair_entry, dict) else None
    return main_model_of(started.models, started.settings, chair if isinstance(chair, str) else None)
