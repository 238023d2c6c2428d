"""`grandrounds teams`: list the bundled teams, show one, validate team files."""

from __future__ import annotations

import json
from pathlib import Path

import click
from rich.console import Group
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from agents.team import Team
from agents.team_loader import find_team, list_teams, resolve_prompt, team_problems, team_snapshot
from scenarios.loader import SUFFIXES
from tui.cli.errors import UserError
from tui.cli.scenarios_cmd import ERROR_LINE_LIMIT, console, display_path
from tui.safe_text import json_visible, safe_model, visible


@click.group()
def teams() -> None:
    """Council configurations: members, models, protocol and limits.

    \b
    Examples:
      grandrounds teams list
      grandrounds teams show with-pharmacist
      grandrounds teams validate my-team.yaml
    """


def _load(ref: str) -> tuple[Path, Team]:
    from tui.cli.loading import load_checked

    return load_checked(ref, find_team, team_problems, "teams")


@teams.command("list")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per team.")
def list_(as_json: bool) -> None:
    """List the bundled teams (agents/teams/*.yaml).

    \b
    Examples:
      grandrounds teams list
      grandrounds teams list --json
    """
    rows = []
    broken = []
    for path in list_teams():
        team, problems = team_problems(path)
        if team is None:
            broken.append(path)
            continue
        rows.append((path, team))
    if as_json:
        click.echo(json.dumps([
            {"id": t.id, "title": t.title, "protocol": t.protocol, "model": t.model,
             "members": t.member_ids(), "chair": t.chair.role, "file": display_path(p)}
            for p, t in rows
        ], indent=2))  # ensure_ascii: every non-ASCII character escaped
    elif not rows:
        click.echo("no bundled teams found", err=True)
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("id", no_wrap=True)
        table.add_column("protocol", no_wrap=True)
        table.add_column("model", overflow="fold")
        table.add_column("members (+ chair)", overflow="fold")
        for _, t in rows:
            t = safe_model(t)
            table.add_row(Text(t.id, style="cyan"), Text(t.protocol), Text(t.model), Text(", ".join(t.member_ids())))
        console().print(table)
    for path in broken:
        click.echo(f"warning: {display_path(path)} is not valid; run `grandrounds teams validate {display_path(path)}`", err=True)


@teams.command("show")
@click.argument("ref", metavar="ID_OR_PATH")
@click.option("--json", "as_json", is_flag=True, help="Print the team as JSON with each member's persona text inlined.")
def show(ref: str, as_json: bool) -> None:
    """Show a team: members, their models and prompts, protocol, limits, sampling.

    \b
    Examples:
      grandrounds teams show default
      grandrounds teams show my-teams/two-ethicists.yaml --json
    """
    path, team = _load(ref)
    if as_json:
        click.echo(json_visible(json.dumps(team_snapshot(team, path), indent=2, ensure_ascii=False)))
        return
    source, team = team, safe_model(team)  # shown as written; prompts are read through the original
    parts: list = [
        Text.assemble((team.id, "bold cyan"), "  ", (team.title, "bold")),
        Text(display_path(path), style="dim"),
        Text.assemble(
            ("protocol ", "dim"), team.protocol, ("   disclosure ", "dim"), team.disclosure, ("   model ", "dim"), team.model,
            ("   judge ", "dim"), team.judge or "none",
        ),
        Rule(Text("Members", style="bold"), align="left", style="dim"),
    ]
    members = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
    members.add_column("role", no_wrap=True, style="cyan")
    members.add_column("model", overflow="fold")
    members.add_column("temp", justify="right", no_wrap=True)
    members.add_column("champions", overflow="fold")
    members.add_column("prompt", overflow="fold")
    prompts = Table(box=None, show_header=False, pad_edge=False, padding=(0, 1))
    prompts.add_column(no_wrap=True, style="cyan")
    prompts.add_column(overflow="fold")
    for original, member in zip([*source.members, source.chair], [*team.members, team.chair]):
        try:
            first = next((line.strip() for line in resolve_prompt(path, original).splitlines() if line.strip()), "")
        except (ValueError, OSError) as exc:  # checked on load; a file may vanish in between
            first = f"(cannot read: {exc})"
        first = visible(first)
        is_chair = member is team.chair and member.role != "chair"
        role = member.role + (" (chair)" if is_chair else "")
        members.add_row(Text(role), Text(team.model_for(member)), Text(f"{team.temperature_for(member):g}"), Text(", ".join(member.champions) or "-"), Text(member.prompt))
        prompts.add_row(Text(member.role), Text(first))
    parts.append(Padding(members, (0, 0, 0, 2)))
    parts.append(Rule(Text("Prompts (first line)", style="bold"), align="left", style="dim"))
    parts.append(Padding(prompts, (0, 0, 0, 2)))
    parts.append(Rule(Text("Limits and sampling", style="bold"), align="left", style="dim"))
    settings = Table(box=None, show_header=False, pad_edge=False)
    settings.add_column(style="dim", no_wrap=True)
    settings.add_column()
    for key, value in [*team.limits.model_dump().items(), *team.sampling.model_dump().items()]:
        settings.add_row(Text(key), Text("default" if value is None else f"{value:g}" if isinstance(value, float) else str(value)))
    parts.append(Padding(settings, (0, 0, 0, 2)))
    console().print(Group(*parts))


@teams.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="FILE...")
def validate(paths: tuple[str, ...]) -> None:
    """Check team files (or every *.yaml in folders), including that each prompt file exists.

    Prints `ok  FILE` for a valid file, or one `file:line: field: problem` line per problem.
    Exit status: 0 if all files are valid, 1 if any is not.

    \b
    Examples:
      grandrounds teams validate agents/teams
      grandrounds teams validate my-team.yaml
    """
    files: list[Path] = []
    for p in paths:
        path = Path(p)
        if path.is_dir():
            files += sorted(f for f in path.iterdir() if f.suffix in SUFFIXES and f.is_file() and not f.name.startswith("."))
        elif path.is_file():
            files.append(path)
        else:
            raise UserError(f"{p}: no such file or folder")
    bad = 0
    for f in files:
        _, problems = team_problems(f)
        if problems:
            bad += 1
            for problem in problems:
                click.echo(visible(problem, one_line=True, limit=ERROR_LINE_LIMIT))
        else:
            click.echo(visible(f"ok  {f}"))
    if files:
        click.echo(f"{len(files)} file(s): {len(files) - bad} valid, {bad} invalid", err=True)
    if bad:
        raise SystemExit(1)
