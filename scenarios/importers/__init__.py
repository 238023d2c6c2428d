"""Importers: external case collections -> scenarios.

The registry maps a source name (as typed on the command line) to the importer class, loaded lazily.
Adding a source: write `scenarios/importers/<name>.py` with an `Importer` subclass and add one line here.

    grandrounds scenarios import agentclinic agentclinic_medqa.jsonl --out imported/
"""

from __future__ import annotations

import importlib

from scenarios.importers.base import (
    ImportProblem,
    ImportResult,
    Importer,
    JsonLinesImporter,
    Locator,
    RecordError,
    SourceRecord,
    import_file,
)

__all__ = [
    "IMPORTERS",
    "ImportProblem",
    "ImportResult",
    "Importer",
    "JsonLinesImporter",
    "Locator",
    "RecordError",
    "SourceRecord",
    "get_importer",
    "import_file",
]

# source name -> "module:Class"
IMPORTERS: dict[str, str] = {
    "agentclinic": "scenarios.importers.agentclinic:AgentClinicImporter",
}


def get_importer(name: str) -> Importer:
    """An instance of the importer registered as `name`; `KeyError` names the known sources."""
    try:
        target = IMPORTERS[name]
    except KeyError:
        raise KeyError(f"unknown source {name!r}; known sources: {', '.join(sorted(IMPORTERS))}") from None
    module_name, _, class_name = target.partition(":")
    return getattr(importlib.import_module(module_name), class_name)()
