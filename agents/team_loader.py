"""Loading team files (agents/teams/*.yaml or a user's own) and the persona prompts they point at.

A member's `prompt` is either a built-in name (`diagnostician` -> agents/prompts/diagnostician.md) or a
path relative to the team file that stays inside the team file's folder (`prompts/pharmacist.md`).
Problems are reported like scenario problems: `file:line: field: message`, every one of them.
"""

from __future__ import annotations

import difflib
import re
from pathlib import Path
from typing import Any

from pydantic import ValidationError

from agents.team import PACKAGE_DIR, PROMPTS_DIR, TEAMS_DIR, Member, Team
from scenarios.loader import JSON_SCHEMA_DIALECT, SUFFIXES, Problem, ProblemsError, problems_from_validation
from scenarios.model import SLUG_PATTERN
from scenarios.yamlsafe import LineMap, YamlError, format_path, load_yaml
from transcripts.paths import confined

__all__ = [
    "PROMPT_NAME_PATTERN",
    "TEAM_SCHEMA_PATH",
    "TeamError",
    "builtin_prompts",
    "find_team",
    "list_teams",
    "load_team",
    "prompt_path",
    "resolve_prompt",
    "team_json_schema",
    "team_problems",
    "team_snapshot",
]

PROMPT_NAME_PATTERN = r"^[a-z0-9_-]+$"
MAX_PROMPT_BYTES = 64 * 1024
TEAM_SCHEMA_PATH = PACKAGE_DIR / "team.schema.json"


class TeamError(ProblemsError):
    """A team file (or reference) that cannot be used. `problems` lists every problem as a string."""

    what = "team"


def builtin_prompts() -> list[str]:
    """Names usable as `prompt:` without a path (agents/prompts/<name>.md)."""
    return sorted(p.stem for p in PROMPTS_DIR.glob("*.md")) if PROMPTS_DIR.is_dir() else []


def prompt_path(team_path: str | Path | None, prompt: str) -> Path:
    """The persona file a `prompt:` value names; `ValueError` (with a message to show) if it is not usable."""
    if re.match(PROMPT_NAME_PATTERN, prompt):
        target = confined(PROMPTS_DIR, f"{prompt}.md")
        if not target.is_file():
            known = builtin_prompts()
            close = difflib.get_close_matches(prompt, known, n=1, cutoff=0.6)
            hint = f"did you mean {close[0]!r}? " if close else ""
            raise ValueError(
                f"no built-in prompt {prompt!r}; {hint}built-ins: {', '.join(known) or 'none'}; "
                "for your own file write a path relative to the team file, e.g. prompts/pharmacist.md"
            )
        return target
    if team_path is None:
        raise ValueError(f"prompt {prompt!r} is a path, but the team has no file to resolve it against")
    if not prompt.strip() or Path(prompt).is_absolute() or prompt.startswith("~"):
        raise ValueError("must be a built-in prompt name or a path relative to the team file")
    folder = Path(team_path).resolve().parent
    try:
        target = confined(folder, prompt)
    except ValueError:
        raise ValueError(f"path {prompt!r} leaves the team file's folder; keep prompt files beside the team file") from None
    if not target.is_file():
        raise ValueError(f"prompt file not found: {prompt} (looked in {folder})")
    return target


def resolve_prompt(team_path: str | Path | None, member: Member) -> str:
    """The persona text of a member (its prompt file's content)."""
    return _read_prompt(team_path, member.prompt)


def _read_prompt(team_path: str | Path | None, prompt: str) -> str:
    path = prompt_path(team_path, prompt)
    raw = path.read_bytes()
    if len(raw) > MAX_PROMPT_BYTES:
        raise ValueError(f"prompt file {path.name} is larger than {MAX_PROMPT_BYTES:,} bytes")
    try:
        return raw.decode("utf-8-sig").strip()
    except UnicodeDecodeError:
        raise ValueError(f"prompt file {path.name} is not UTF-8 text") from None


def team_snapshot(team: Team, team_path: str | Path | None) -> dict[str, Any]:
    """The team as JSON with each member's persona text under `persona`: what a run hashes and records.

    Raises `TeamError` if a prompt file cannot be read.
    """
    data = team.model_dump(mode="json")
    entries = [*zip(data["members"], team.members, strict=True), (data["chair"], team.chair)]
    for entry, member in entries:
        try:
            entry["persona"] = resolve_prompt(team_path, member)
        except (ValueError, OSError) as exc:
            raise TeamError([f"{team_path or team.id}: {member.role}.prompt: {exc}"]) from None
    return data


def _member_locs(data: dict[str, Any]) -> list[tuple[list[str | int], dict[str, Any]]]:
    out: list[tuple[list[str | int], dict[str, Any]]] = []
    members = data.get("members")
    if isinstance(members, list):
        out += [(["members", i], m) for i, m in enumerate(members) if isinstance(m, dict)]
    if isinstance(data.get("chair"), dict):
        out.append((["chair"], data["chair"]))
    return out


def _team_cross_checks(file: str, data: dict[str, Any], linemap: LineMap) -> list[Problem]:
    problems: list[Problem] = []
    first: dict[str, list[str | int]] = {}
    for loc, member in _member_locs(data):
        role = member.get("role")
        if isinstance(role, str):
            here = [*loc, "role"]
            if role in first:
                where = linemap.line_for(first[role])
                problems.append(Problem(file, linemap.line_for(here), format_path(here), f"duplicate role id {role!r} (first on line {where})"))
            else:
                first[role] = here
        prompt = member.get("prompt")
        if isinstance(prompt, str):
            here = [*loc, "prompt"]
            try:
                _read_prompt(file, prompt)
            except (ValueError, OSError) as exc:
                problems.append(Problem(file, linemap.line_for(here), format_path(here), str(exc)))
    return problems


def team_problems(path: str | Path) -> tuple[Team | None, list[Problem]]:
    """Load one team file: `(team or None, every problem found)`; never raises for bad content."""
    file = str(path)
    try:
        data, linemap = load_yaml(path)
    except YamlError as exc:
        return None, [Problem(file, exc.line, "", exc.message)]
    if not isinstance(data, dict):
        return None, [Problem(file, linemap.line_for(()), "", "a team must be a mapping of fields (id: ..., members: ...)")]
    problems: list[Problem] = []
    team: Team | None = None
    try:
        team = Team.model_validate(data)
    except ValidationError as exc:
        problems += problems_from_validation(exc, data, linemap, file, Team)
    problems += _team_cross_checks(file, data, linemap)
    if problems:
        problems.sort(key=lambda p: p.line or 0)
        return None, problems
    return team, []


def list_teams() -> list[Path]:
    """The bundled team files (agents/teams/*.yaml), sorted by name."""
    if not TEAMS_DIR.is_dir():
        return []
    return sorted(p for p in TEAMS_DIR.iterdir() if p.suffix in SUFFIXES and p.is_file() and not p.name.startswith("."))


def find_team(ref: str | Path) -> Path:
    """A team file from a path, or from a bare id looked up in agents/teams/ (`default`, `moderated`)."""
    text = str(ref)
    if len(text) > 4096 or any(len(part) > 255 for part in Path(text).parts):  # the OS refuses such names
        raise TeamError([f"{text[:57]!r}... is not a team id or file name (too long: {len(text):,} characters)"])
    if isinstance(ref, Path) or "/" in text or "\\" in text or text.endswith(SUFFIXES) or Path(text).exists():
        p = Path(text)
        if p.is_file():
            return p
        raise TeamError([f"{text}: {'is a folder; give one team file or id' if p.is_dir() else 'no such file'}"])
    if not re.match(SLUG_PATTERN, text):
        raise TeamError([f"{text!r} is not a team id (lower-case letters, digits and hyphens) or an existing file"])
    for suffix in SUFFIXES:
        candidate = confined(TEAMS_DIR, text + suffix)
        if candidate.is_file():
            return candidate
    known = [p.stem for p in list_teams()]
    raise TeamError([f"no team {text!r} in {TEAMS_DIR}; bundled teams: {', '.join(known) or 'none'}"])


def load_team(path_or_id: str | Path) -> Team:
    """Load and validate a team from a path or a bundled id; `TeamError` lists every problem."""
    path = find_team(path_or_id)
    team, problems = team_problems(path)
    if team is None:
        raise TeamError(problems)
    return team


def team_json_schema() -> dict[str, Any]:
    """JSON Schema of the team format (the committed copy is agents/team.schema.json)."""
    return {"$schema": JSON_SCHEMA_DIALECT, **Team.model_json_schema()}
