"""Loading and validating scenario files, with errors a case author can act on.

Every problem in a file is reported, each as `file:line: field: message`, e.g.

    scenarios/library/chest-pain.yaml:41: conflicts[1].options[0].verdict: should be 'preferred', 'acceptable' or 'unacceptable', got 'best'

`problems_from_validation` turns any pydantic `ValidationError` into such lines; the team loader uses it too.
"""

from __future__ import annotations

import difflib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, get_args, get_origin

from pydantic import BaseModel, ValidationError

from scenarios.model import INNER_ID_PATTERN, ROLE_ID_PATTERN, SLUG_PATTERN, Scenario
from scenarios.paths import confined
from scenarios.yamlsafe import LineMap, YamlError, format_path, load_yaml

__all__ = [
    "SCHEMA_PATH",
    "Problem",
    "ScenarioError",
    "find_scenario",
    "iter_scenario_files",
    "library_dir",
    "load_scenario",
    "load_scenarios",
    "problems_from_validation",
    "scenario_json_schema",
    "scenario_problems",
    "schema_text",
    "validate_path",
]

SCHEMA_PATH = Path(__file__).resolve().parent / "scenario.schema.json"
SUFFIXES = (".yaml", ".yml")
MAX_REF_CHARS = 4096  # a longer id or path is refused (and never echoed in full)
JSON_SCHEMA_DIALECT = "https://json-schema.org/draft/2020-12/schema"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a file. `str()` gives `file:line: field: message`."""

    file: str
    line: int | None
    field: str
    message: str

    def __str__(self) -> str:
        where = f"{self.file}:{self.line}" if self.line else self.file
        return f"{where}: {self.field}: {self.message}" if self.field else f"{where}: {self.message}"


class ProblemsError(Exception):
    """A file (or reference) that cannot be used. `problems` lists every problem as a string;
    `str()` is the first one, with a count of the rest, for a one-line error."""

    what = "file"

    def __init__(self, problems: Sequence[Problem | str]) -> None:
        self.items: list[Problem | str] = list(problems)
        self.problems: list[str] = [str(p) for p in self.items]
        super().__init__(str(self))

    def __str__(self) -> str:
        if not self.problems:
            return f"invalid {self.what}"
        more = len(self.problems) - 1
        return self.problems[0] + (f" (and {more} more problem{'s' if more > 1 else ''})" if more else "")


class ScenarioError(ProblemsError):
    """A scenario file (or reference) that cannot be used."""

    what = "scenario"


# -- pydantic errors -> problems -----------------------------------------------------------------

_PATTERN_HELP = {
    SLUG_PATTERN: "must be a slug: lower-case letters and digits joined by single hyphens, e.g. chest-pain-triage (no '/', '..' or spaces)",
    INNER_ID_PATTERN: "must be a short id: a letter or digit, then letters, digits, '_' or '-' (at most 64), e.g. F1",
    ROLE_ID_PATTERN: "must be a role id: lower-case letters, digits and '_', starting with a letter, e.g. safety_critic",
}
_UNION_MARKERS = ("[", "]", "'", ",", "(")
_COVERED_BY_CROSS_CHECKS = re.compile(
    r"^(duplicate (fact|conflict|rubric criterion|red flag|stakeholder|option|role) id\(s\): |rubric \S+ refers to unknown (conflict|fact) )"
)


def _short(value: Any, limit: int = 60) -> str:
    text = repr(value)
    return text if len(text) <= limit else text[: limit - 3] + "..."


def _unwrap_model(tp: Any) -> type[BaseModel] | None:
    if isinstance(tp, type) and issubclass(tp, BaseModel):
        return tp
    for arg in get_args(tp) if get_origin(tp) is not None else ():
        found = _unwrap_model(arg)
        if found is not None:
            return found
    return None


def _model_at(model: type[BaseModel], loc: Sequence[str | int]) -> type[BaseModel] | None:
    current: type[BaseModel] | None = model
    for part in loc:
        if isinstance(part, int):
            continue
        if current is None or part not in current.model_fields:
            return None
        current = _unwrap_model(current.model_fields[part].annotation)
    return current


def _clean_loc(loc: Sequence[str | int], data: Any) -> tuple[list[str | int], bool]:
    """Drop pydantic's union-branch segments (e.g. "literal['all','on_request']") by walking the data."""
    out: list[str | int] = []
    current: Any = data
    stripped = False
    for part in loc:
        if isinstance(current, list) and isinstance(part, int):
            out.append(part)
            current = current[part] if 0 <= part < len(current) else None
        elif isinstance(current, dict) and part in current:
            out.append(part)
            current = current[part]
        elif isinstance(part, str) and (not isinstance(current, dict) or any(m in part for m in _UNION_MARKERS)):
            stripped = True  # a union branch name, not a field
        else:
            out.append(part)
            current = None
    return out, stripped


def _message(error: dict[str, Any], loc: list[str | int], model: type[BaseModel]) -> str:
    kind = error.get("type", "")
    msg: str = error.get("msg", "invalid")
    value = error.get("input")
    if kind == "extra_forbidden":
        name = loc[-1] if loc else "?"
        parent = _model_at(model, loc[:-1])
        allowed = sorted(parent.model_fields) if parent else []
        close = difflib.get_close_matches(str(name), allowed, n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]!r}?" if close else (f"; allowed: {', '.join(allowed)}" if allowed else "")
        return f"unknown field{hint}"
    if kind == "missing":
        return "required field is missing"
    if kind == "string_pattern_mismatch":
        pattern = (error.get("ctx") or {}).get("pattern")
        return f"{_PATTERN_HELP.get(pattern, msg)}; got {_short(value)}"
    for prefix in ("Value error, ", "Assertion failed, "):
        if msg.startswith(prefix):
            return msg[len(prefix):]
    if msg.startswith("Input should be "):
        expected = re.sub(r" or instance of \w+$", "", msg[len("Input should be "):])
        return f"should be {expected}, got {_short(value)}"
    if msg.startswith("String should have at least 1 character"):
        return "must not be empty"
    return msg[:1].lower() + msg[1:]


def problems_from_validation(
    exc: ValidationError, data: Any, linemap: LineMap, file: str, model: type[BaseModel]
) -> list[Problem]:
    """One `Problem` per pydantic error, located by the line map.

    Union branches for one field become one line; a branch that got further into the value (a bad item
    in a list) wins over the branch that rejected the whole value; several missing fields of one
    mapping become one line.
    """
    errors = exc.errors(include_url=False)
    cleaned = [(error, *_clean_loc(error.get("loc", ()), data)) for error in errors]
    union_paths = [format_path(loc) for _, loc, stripped in cleaned if stripped]
    missing: dict[str, list[str | int]] = {}
    for error, loc, _ in cleaned:
        if error.get("type") == "missing" and loc:
            missing.setdefault(format_path(loc[:-1]), []).append(loc[-1])

    merged: dict[tuple[str, int | None], list[str]] = {}
    order: list[tuple[str, int | None]] = []

    def add(loc: list[str | int], piece: str) -> None:
        key = (format_path(loc), linemap.line_for(loc))
        if key not in merged:
            merged[key] = []
            order.append(key)
        if piece not in merged[key]:
            merged[key].append(piece)

    for error, loc, stripped in cleaned:
        kind = error.get("type")
        path = format_path(loc)
        if stripped and any(other != path and other.startswith(path) and other[len(path)] in "[." for other in union_paths):
            continue  # another branch of the same union located the problem more precisely
        if kind == "missing" and loc and len(missing[format_path(loc[:-1])]) > 1:
            names = missing[format_path(loc[:-1])]
            add(loc[:-1], f"missing required fields: {', '.join(map(str, names))}")
            continue
        message = _message(error, loc, model)
        pieces = [message]
        if not loc and kind == "value_error":
            pieces = [p for p in message.split("; ") if not _COVERED_BY_CROSS_CHECKS.match(p)]
        elif kind == "value_error" and _COVERED_BY_CROSS_CHECKS.match(message):
            pieces = []
        for piece in pieces:
            add(loc, piece)
    return [Problem(file, line, path, _join_alternatives(merged[(path, line)])) for path, line in order]


def _join_alternatives(pieces: list[str]) -> str:
    """["should be 'all', got 'x'", "should be a valid list, got 'x'"] -> "should be 'all' or a valid list, got 'x'"."""
    if len(pieces) > 1:
        suffixes = {p[p.rfind(", got "):] for p in pieces if ", got " in p}
        if len(suffixes) == 1 and all(p.startswith("should be ") and ", got " in p for p in pieces):
            suffix = suffixes.pop()
            return "should be " + " or ".join(p[len("should be "): p.rfind(", got ")] for p in pieces) + suffix
    return "; ".join(pieces)


# -- cross-checks on the raw data, so they are reported per field even when other fields are bad ---------


def _duplicate_ids(items: Any, loc: list[str | int], label: str, linemap: LineMap) -> Iterator[tuple[list[str | int], str]]:
    if not isinstance(items, list):
        return
    first: dict[Any, list[str | int]] = {}
    for i, item in enumerate(items):
        if not isinstance(item, dict) or not isinstance(item.get("id"), (str, int)):
            continue
        here = [*loc, i, "id"]
        if item["id"] in first:
            yield here, f"duplicate {label} id {item['id']!r} (first on line {linemap.line_for(first[item['id']])})"
        else:
            first[item["id"]] = here


def _ids(items: Any) -> list[str]:
    return [str(i["id"]) for i in items if isinstance(i, dict) and "id" in i] if isinstance(items, list) else []


def _scenario_cross_checks(data: dict[str, Any], linemap: LineMap) -> Iterator[tuple[list[str | int], str]]:
    for key, label in (("facts", "fact"), ("conflicts", "conflict"), ("rubric", "rubric criterion"), ("red_flags", "red flag"), ("stakeholders", "stakeholder")):
        yield from _duplicate_ids(data.get(key), [key], label, linemap)
    conflicts = data.get("conflicts")
    if isinstance(conflicts, list):
        for i, conflict in enumerate(conflicts):
            if isinstance(conflict, dict):
                yield from _duplicate_ids(conflict.get("options"), ["conflicts", i, "options"], "option", linemap)
    conflict_ids, fact_ids = _ids(conflicts), _ids(data.get("facts"))
    rubric = data.get("rubric")
    if isinstance(rubric, list):
        for i, criterion in enumerate(rubric):
            if not isinstance(criterion, dict):
                continue
            ref = criterion.get("conflict")
            if ref is not None and str(ref) not in conflict_ids:
                known = ", ".join(conflict_ids) or "none"
                yield ["rubric", i, "conflict"], f"unknown conflict {ref!r} (conflicts in this file: {known})"
            facts = criterion.get("facts")
            if isinstance(facts, list):
                for j, fid in enumerate(facts):
                    if str(fid) not in fact_ids:
                        yield ["rubric", i, "facts", j], f"unknown fact {fid!r}"


def _locate_example(message: str, loc: list[str | int], data: Any) -> list[str | int]:
    """Point a red flag's example failure at the example itself."""
    flag: Any = data
    for part in loc:
        try:
            flag = flag[part]
        except (KeyError, IndexError, TypeError):
            return loc
    if not isinstance(flag, dict):
        return loc
    for key, marker in (("examples_match", "its example "), ("examples_no_match", "its counter-example ")):
        if marker in message:
            for j, sentence in enumerate(flag.get(key) or []):
                if isinstance(sentence, str) and message.endswith(marker + repr(sentence)):
                    return [*loc, key, j]
    return loc


# -- files ------------------------------------------------------------------------------------------


def library_dir() -> Path:
    """The bundled case library (scenarios/library beside this module)."""
    return Path(__file__).resolve().parent / "library"


def scenario_problems(path: str | Path) -> tuple[Scenario | None, list[Problem]]:
    """Load one file and return `(scenario or None, every problem found)`; never raises for bad content."""
    file = str(path)
    try:
        data, linemap = load_yaml(path)
    except YamlError as exc:
        return None, [Problem(file, exc.line, "", exc.message)]
    if not isinstance(data, dict):
        kind = "a list" if isinstance(data, list) else "a single value"
        return None, [Problem(file, linemap.line_for(()), "", f"a scenario must be a mapping of fields (id: ..., title: ...), not {kind}")]

    problems: list[Problem] = []
    scenario: Scenario | None = None
    try:
        scenario = Scenario.model_validate(data)
    except ValidationError as exc:
        for problem in problems_from_validation(exc, data, linemap, file, Scenario):
            problems.append(problem)
    # Red-flag example failures: point at the example line.
    problems = [
        _relocate(p, data, linemap) if p.field.startswith("red_flags[") and "example" in p.message else p for p in problems
    ]
    for loc, message in _scenario_cross_checks(data, linemap):
        problems.append(Problem(file, linemap.line_for(loc), format_path(loc), message))

    sid = data.get("id")
    stem = Path(file).stem
    if isinstance(sid, str) and re.match(SLUG_PATTERN, sid) and sid != stem:
        problems.append(
            Problem(file, linemap.line_for(["id"]), "id", f"id {sid!r} does not match the file name {stem!r}: rename the file to {sid}.yaml or change the id")
        )
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        return None, problems
    return scenario, []


def _relocate(problem: Problem, data: Any, linemap: LineMap) -> Problem:
    m = re.match(r"^red_flags\[(\d+)\]$", problem.field)
    if not m:
        return problem
    if "pattern takes longer than" in problem.message:  # a pattern too slow on its examples
        loc: list[str | int] = ["red_flags", int(m.group(1)), "pattern"]
    else:
        loc = _locate_example(problem.message, ["red_flags", int(m.group(1))], data)
    return Problem(problem.file, linemap.line_for(loc), format_path(loc), problem.message)


def load_scenario(path: str | Path) -> Scenario:
    """Load and validate one scenario file; `ScenarioError` lists every problem."""
    scenario, problems = scenario_problems(path)
    if scenario is None:
        raise ScenarioError(problems)
    return scenario


def iter_scenario_files(path: str | Path) -> list[Path]:
    """A file -> [file]; a folder -> its *.yaml / *.yml files (not recursive, hidden files skipped), sorted."""
    p = Path(path)
    if p.is_file():
        return [p]
    if p.is_dir():
        return sorted(f for f in p.iterdir() if f.suffix in SUFFIXES and not f.name.startswith(".") and f.is_file())
    raise ScenarioError([Problem(str(path), None, "", "no such file or folder")])


def validate_path(path: str | Path) -> list[str]:
    """Every problem in a scenario file or folder, as `file:line: field: message` lines; [] means all valid."""
    try:
        files = iter_scenario_files(path)
    except ScenarioError as exc:
        return exc.problems
    return [str(p) for f in files for p in scenario_problems(f)[1]]


def load_scenarios(path: str | Path | None = None) -> tuple[list[tuple[Path, Scenario]], list[str]]:
    """Load every scenario in a file or folder (default: the library): `(loaded, problems of the others)`."""
    files = iter_scenario_files(library_dir() if path is None else path)
    loaded: list[tuple[Path, Scenario]] = []
    problems: list[str] = []
    for f in files:
        scenario, found = scenario_problems(f)
        if scenario is not None:
            loaded.append((f, scenario))
        problems.extend(str(p) for p in found)
    return loaded, problems


def find_scenario(ref: str | Path) -> Path:
    """A scenario file from a path, or from a bare id looked up in the library (`insulin-error-disclosure`)."""
    text = str(ref)
    if len(text) > MAX_REF_CHARS or any(len(part) > 255 for part in Path(text).parts):  # the OS refuses such names
        raise ScenarioError([f"{_short(text)} is not a scenario id or file name (too long: {len(text):,} characters)"])
    looks_like_path = isinstance(ref, Path) or "/" in text or "\\" in text or text.endswith(SUFFIXES) or Path(text).exists()
    if looks_like_path:
        p = Path(text)
        if p.is_file():
            return p
        if p.is_dir():
            raise ScenarioError([f"{text}: is a folder; give one scenario file or id"])
        raise ScenarioError([f"{text}: no such file"])
    if not re.match(SLUG_PATTERN, text):
        raise ScenarioError([f"{text!r} is not a scenario id (lower-case letters, digits and hyphens) or an existing file"])
    library = library_dir()
    for suffix in SUFFIXES:
        candidate = confined(library, text + suffix)
        if candidate.is_file():
            return candidate
    known = [f.stem for f in iter_scenario_files(library)] if library.is_dir() else []
    close = difflib.get_close_matches(text, known, n=3, cutoff=0.5)
    hint = f"; did you mean {', '.join(close)}?" if close else "; see `grandrounds scenarios list`"
    raise ScenarioError([f"no scenario {text!r} in the library{hint}"])


def scenario_json_schema() -> dict[str, Any]:
    """JSON Schema of the scenario format, for editors (the committed copy is scenarios/scenario.schema.json)."""
    schema = Scenario.model_json_schema()
    return {"$schema": JSON_SCHEMA_DIALECT, **schema}


def schema_text(schema: dict[str, Any]) -> str:
    """The exact text written to the committed schema files (and printed by `scenarios schema`)."""
    return json.dumps(schema, indent=2, ensure_ascii=False) + "\n"

