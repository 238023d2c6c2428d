"""What an importer is: a source of records and a function that turns one record into a `Scenario`.

A new source is one small module with a subclass of `Importer` (or of `JsonLinesImporter` when the
source is one JSON object per line) and one line in the registry (`scenarios/importers/__init__.py`).
`import_file` drives any importer: a record that cannot be read or converted becomes an
`ImportProblem` (`file:line: what is wrong`) and the other records still import.
"""

from __future__ import annotations

import json
import re
from abc import ABC, abstractmethod
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, ClassVar

from pydantic import ValidationError

from scenarios.model import Scenario

__all__ = [
    "ImportProblem",
    "ImportResult",
    "Importer",
    "JsonLinesImporter",
    "Locator",
    "RecordError",
    "SourceRecord",
    "import_file",
]


@dataclass(frozen=True)
class Locator:
    """Where a record is: the file, its 1-based line, and its 1-based record number."""

    path: Path
    line: int
    number: int

    def __str__(self) -> str:
        return f"{self.path.name}:{self.line}"


@dataclass(frozen=True)
class SourceRecord:
    """One record read from a source file: its data, or why it could not be read."""

    locator: Locator
    data: Any = None
    error: str | None = None


class RecordError(ValueError):
    """A record has the wrong shape; the message says what is wrong, the caller adds `file:line:`."""


@dataclass(frozen=True)
class ImportProblem:
    locator: Locator
    message: str

    def __str__(self) -> str:
        return f"{self.locator}: {self.message}"


@dataclass
class ImportResult:
    scenarios: list[Scenario] = field(default_factory=list)
    problems: list[ImportProblem] = field(default_factory=list)
    records: int = 0


class Importer(ABC):
    """Turns records of one external source into scenarios."""

    name: ClassVar[str]
    """Registry name, used on the command line: `grandrounds scenarios import NAME FILE`."""
    description: ClassVar[str]
    """One line for `--help`."""

    @abstractmethod
    def iter_records(self, path: Path) -> Iterator[SourceRecord]:
        """Yield every record of the file, or a `SourceRecord` with `error` set for one that cannot be read."""

    @abstractmethod
    def to_scenario(self, record: Any, locator: Locator) -> Scenario:
        """Convert one record; raise `RecordError` if its shape is wrong."""


class JsonLinesImporter(Importer):
    """A source with one JSON object per line; blank lines are skipped; the record number is the line number
    (so ids stay the same when a line before them is broken or removed and re-added)."""

    def iter_records(self, path: Path) -> Iterator[SourceRecord]:
        with path.open("r", encoding="utf-8-sig") as fh:
            for lineno, line in enumerate(fh, start=1):
                if not line.strip():
                    continue
                locator = Locator(path, lineno, lineno)
                try:
                    data = json.loads(line)
                except json.JSONDecodeError as exc:
                    yield SourceRecord(locator, error=f"not valid JSON: {exc.msg} (column {exc.colno})")
                    continue
                yield SourceRecord(locator, data=neutralise(data))


# Terminal control characters (C0 but newline and tab, DEL, C1), bidi overrides and isolates, zero-width
# and invisible format characters: meaningless in a case text, harmful when the case is printed.
_UNSAFE = re.compile("[\x00-\x08\x0b-\x1f\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


def neutralise(value: Any) -> Any:
    """Imported data with every unsafe character removed from its strings (keys included)."""
    if isinstance(value, str):
        return _UNSAFE.sub("", value)
    if isinstance(value, list):
        return [neutralise(v) for v in value]
    if isinstance(value, dict):
        return {neutralise(k): neutralise(v) for k, v in value.items()}
    return value


def _validation_message(exc: ValidationError) -> str:
    parts = []
    for err in exc.errors()[:3]:
        where = ".".join(str(p) for p in err["loc"]) or "scenario"
        parts.append(f"{where}: {err['msg']}")
    more = f" (and {exc.error_count() - 3} more)" if exc.error_count() > 3 else ""
    return "the converted case is not a valid scenario: " + "; ".join(parts) + more


def import_file(importer: Importer, path: str | Path) -> ImportResult:
    """Convert every record of `path`; problems are collected, never raised (except for an unreadable file:
    `OSError` / `UnicodeDecodeError` propagate so the caller can say the file itself is the problem)."""
    result = ImportResult()
    for record in importer.iter_records(Path(path)):
        result.records += 1
        if record.error is not None:
            result.problems.append(ImportProblem(record.locator, record.error))
            continue
        try:
            scenario = importer.to_scenario(record.data, record.locator)
        except RecordError as exc:
            result.problems.append(ImportProblem(record.locator, str(exc)))
        except ValidationError as exc:
            result.problems.append(ImportProblem(record.locator, _validation_message(exc)))
        except (KeyError, TypeError, AttributeError, ValueError) as exc:
            # A shape the importer did not foresee: report it against the record rather than stop the import.
            result.problems.append(ImportProblem(record.locator, f"unexpected record shape ({type(exc).__name__}: {exc})"))
        else:
            result.scenarios.append(scenario)
    return result
