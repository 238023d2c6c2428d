"""Writing scenario files: importers and the variant generator turn `Scenario` objects into YAML.

`dump_scenario` gives the YAML text (plain YAML only, fields in the model's order, multi-line texts as
`|` blocks, no line wrapping); `write_scenarios` writes a set of them as `DIR/<id>.yaml` and never
overwrites a file silently: a file with the same content is left alone ("unchanged"), a file with
different content is refused unless `force=True`. Nothing is written when any file would be refused.
"""

from __future__ import annotations

import os
import tempfile
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml
from pydantic import BaseModel

from scenarios.model import Scenario

__all__ = ["OutputExistsError", "WriteReport", "dump_scenario", "scenario_to_data", "write_scenarios"]


class _Dumper(yaml.SafeDumper):
    """SafeDumper that writes multi-line strings as literal blocks and never sorts keys."""


def _represent_str(dumper: yaml.SafeDumper, value: str) -> yaml.ScalarNode:
    style = "|" if "\n" in value else None
    return dumper.represent_scalar("tag:yaml.org,2002:str", value, style=style)


_Dumper.add_representer(str, _represent_str)


def scenario_to_data(scenario: Scenario) -> dict[str, Any]:
    """Plain data in field order; optional fields left at None are omitted, patient values kept as they are."""
    return _plain(scenario, top=True)


def _plain(value: Any, top: bool = False) -> Any:
    if isinstance(value, BaseModel):
        out: dict[str, Any] = {}
        for name, info in type(value).model_fields.items():
            item = getattr(value, name)
            if item is None and info.default is None:
                continue
            # Inside nested models an empty default list is noise (rubric `facts: []`, red-flag examples).
            if not top and item == [] and not info.is_required():
                continue
            out[name] = _plain(item)
        return out
    if isinstance(value, dict):
        return {k: _plain(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_plain(v) for v in value]
    return value


def dump_scenario(scenario: Scenario, header: str | None = None) -> str:
    """YAML text for a scenario; `header` (one or more lines) is written first as `#` comments."""
    body = yaml.dump(
        scenario_to_data(scenario),
        Dumper=_Dumper,
        sort_keys=False,
        allow_unicode=True,
        width=1_000_000,
        default_flow_style=False,
    )
    if header:
        comment = "".join(f"# {line}".rstrip() + "\n" for line in header.splitlines())
        return comment + body
    return body


class OutputExistsError(Exception):
    """Files with different content already exist and `force` was not given."""

    def __init__(self, paths: list[Path]) -> None:
        self.paths = paths
        shown = ", ".join(str(p) for p in paths[:3]) + (f" and {len(paths) - 3} more" if len(paths) > 3 else "")
        super().__init__(
            f"{len(paths)} file(s) already exist with different content: {shown}; "
            "pass --force to overwrite them, or choose another --out folder"
        )


@dataclass
class WriteReport:
    written: list[Path] = field(default_factory=list)
    unchanged: list[Path] = field(default_factory=list)


def write_scenarios(
    items: Iterable[tuple[Scenario, str | None]] | Iterable[Scenario],
    out_dir: str | Path,
    *,
    force: bool = False,
) -> WriteReport:
    """Write each scenario (optionally paired with a header comment) to `out_dir/<id>.yaml`.

    Raises `OutputExistsError` (and writes nothing) if a file exists with other content and not `force`.
    """
    out = Path(out_dir)
    plan: list[tuple[Path, str]] = []
    for item in items:
        scenario, header = item if isinstance(item, tuple) else (item, None)
        plan.append((out / f"{scenario.id}.yaml", dump_scenario(scenario, header)))

    report = WriteReport()
    clashes: list[Path] = []
    todo: list[tuple[Path, str]] = []
    for path, text in plan:
        if path.exists():
            try:
                same = path.read_text(encoding="utf-8") == text
            except (OSError, UnicodeDecodeError):
                same = False
            if same:
                report.unchanged.append(path)
                continue
            if not force:
                clashes.append(path)
                continue
        todo.append((path, text))
    if clashes:
        raise OutputExistsError(clashes)

    out.mkdir(parents=True, exist_ok=True)
    for path, text in todo:
        _atomic_write(path, text)
        report.written.append(path)
    return report


def _atomic_write(path: Path, text: str) -> None:
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "w", encoding="utf-8", newline="\n") as fh:
            fh.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
