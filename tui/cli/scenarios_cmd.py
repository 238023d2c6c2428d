"""`grandrounds scenarios`: list, show, validate the case library and print the scenario JSON Schema.

Scenario text is shown literally: every string from a file goes into `rich.text.Text`, never through markup.
"""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import click
from rich.console import Console, Group
from rich.padding import Padding
from rich.rule import Rule
from rich.table import Table
from rich.text import Text

from scenarios.loader import (
    find_scenario,
    iter_scenario_files,
    library_dir,
    load_scenarios,
    scenario_json_schema,
    scenario_problems,
    schema_text,
)
from scenarios.model import DIMENSIONS, Scenario
from tui.cli.errors import UserError
from tui.safe_text import json_visible, safe_model, visible

ERROR_LINE_LIMIT = 1000  # characters of one problem line (a 1 MB id is elided, not echoed)

VERDICT_STYLE = {"preferred": "bold green", "acceptable": "yellow", "unacceptable": "bold red"}


def console() -> Console:
    """A console that never interprets markup or emoji codes in what it prints."""
    return Console(highlight=False, markup=False, emoji=False)


def first_problem(problems: list[str], path: str, command: str) -> str:
    more = len(problems) - 1
    tail = f" (and {more} more; run `grandrounds {command} validate {path}`)" if more else ""
    return problems[0] + tail


def display_path(path: Path) -> str:
    """The path relative to the working folder when it is under it; control characters made visible."""
    return visible(_display_path(path))


def _display_path(path: Path) -> str:
    try:
        return str(path.resolve().relative_to(Path.cwd().resolve()))
    except ValueError:
        return str(path)


@click.group()
def scenarios() -> None:
    """Browse and check the case library.

    \b
    Examples:
      grandrounds scenarios list --dimension privacy
      grandrounds scenarios show insulin-error-disclosure
      grandrounds scenarios import agentclinic FILE.jsonl --out DIR
      grandrounds scenarios variants CASE --vary sex,race --out DIR
      grandrounds scenarios validate scenarios/library my-case.yaml
      grandrounds scenarios schema > scenario.schema.json
    """


# -- list -------------------------------------------------------------------------------------------


@scenarios.command("list")
@click.argument("path", required=False)
@click.option("--dimension", "dimensions", multiple=True, type=click.Choice(DIMENSIONS), help="Only cases with a conflict on this dimension (repeat for all of several).")
@click.option("--tag", "tags", multiple=True, help="Only cases with this tag (repeat for all of several).")
@click.option("--specialty", help="Only cases whose specialty contains this text (case-insensitive).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON: one object per case.")
def list_(path: str | None, dimensions: tuple[str, ...], tags: tuple[str, ...], specialty: str | None, as_json: bool) -> None:
    """List the cases in PATH (a folder or file; default: the bundled library).

    \b
    Examples:
      grandrounds scenarios list
      grandrounds scenarios list --dimension fairness --specialty oncology
      grandrounds scenarios list my-cases/ --json
    """
    folder = Path(path) if path else library_dir()
    if path and not folder.exists():
        raise UserError(f"{path}: no such file or folder")
    loaded, _problems = load_scenarios(folder)
    invalid = len(iter_scenario_files(folder)) - len(loaded)
    selected = [
        (file, s)
        for file, s in loaded
        if all(d in s.dimensions() for d in dimensions)
        and all(t in s.tags for t in tags)
        and (not specialty or specialty.lower() in s.specialty.lower())
    ]
    if as_json:
        rows = [
            {"id": s.id, "title": s.title, "specialty": s.specialty, "setting": s.setting, "tags": s.tags,
             "dimensions": s.dimensions(), "conflicts": len(s.conflicts), "file": display_path(file)}
            for file, s in selected
        ]
        click.echo(json_visible(json.dumps(rows, indent=2, ensure_ascii=False)))
    elif not selected:
        click.echo(f"no scenarios{' match' if loaded else ''} in {display_path(folder)}", err=True)
    else:
        table = Table(box=None, header_style="bold", pad_edge=False)
        table.add_column("id", no_wrap=True)
        table.add_column("title", ratio=3, overflow="fold")
        table.add_column("specialty", ratio=1, overflow="fold")
        table.add_column("dimensions", ratio=2, overflow="fold")
        table.add_column("conflicts", justify="right", no_wrap=True)
        for _, s in selected:
            s = safe_model(s)
            table.add_row(Text(s.id, style="cyan"), Text(s.title), Text(s.specialty), Text(", ".join(s.dimensions()) or "-"), Text(str(len(s.conflicts))))
        console().print(table)
    if invalid:
        click.echo(
            f"warning: skipped {invalid} invalid file(s); run `grandrounds scenarios validate {display_path(folder)}`",
            err=True,
        )


# -- show -------------------------------------------------------------------------------------------


def _value_text(value: Any) -> str:
    if isinstance(value, list):
        return ", ".join(_value_text(v) for v in value) if value else "none"
    if isinstance(value, dict):
        return "; ".join(f"{k}: {_value_text(v)}" for k, v in value.items())
    return "unknown" if value is None else str(value)


_LIST_ITEM = re.compile(r"^\s*([-*•]|\d+[.)])\s")


def prose(text: str) -> str:
    """Re-flow a YAML block scalar: join wrapped lines, keep blank lines and list items as breaks."""
    out: list[str] = []
    for line in text.strip().splitlines():
        stripped = line.strip()
        if out and stripped and out[-1] and not _LIST_ITEM.match(line):
            out[-1] += " " + stripped
        else:
            out.append(stripped)
    return "\n".join(out)


def _section(title: str) -> Rule:
    return Rule(Text(title, style="bold"), align="left", style="dim")


def _kv_table(mapping: dict[str, Any]) -> Table:
    table = Table(box=None, show_header=False, pad_edge=False)
    table.add_column(style="dim", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in mapping.items():
        table.add_row(Text(str(key)), Text(_value_text(value)))
    return table


def render_scenario(s: Scenario, file: str) -> Group:
    """The case as a teaching handout: every field, in file order, as literal text."""
    s, file = safe_model(s), visible(file)
    parts: list[Any] = []
    parts.append(Text(s.title, style="bold"))
    meta = Text.assemble((s.id, "cyan"), "  ·  ", s.specialty, "  ·  ", s.setting)
    if s.tags:
        meta.append("  ·  tags: " + ", ".join(s.tags), style="dim")
    parts += [meta, Text(file, style="dim"), Text(""), Text(s.summary)]
    prov = f"{s.provenance.author}; source: {s.provenance.source}; license: {s.provenance.license}"
    if s.provenance.record:
        prov += f"; record: {s.provenance.record}"
    parts.append(Text("Provenance: " + prov, style="dim"))
    if s.variant:
        parts.append(Text(f"Variant of {s.variant.family}: {s.variant.attribute} = {s.variant.value}", style="dim"))

    parts += [_section("Patient"), Padding(_kv_table(s.patient), (0, 0, 0, 2))]
    parts += [_section("Presentation"), Padding(Text(prose(s.presentation)), (0, 0, 0, 2))]

    facts = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
    facts.add_column("id", no_wrap=True, style="cyan")
    facts.add_column("visible to", no_wrap=True)
    facts.add_column("fact", overflow="fold")
    for f in s.facts:
        vis = f.visibility if isinstance(f.visibility, str) else ", ".join(f.visibility)
        facts.add_row(Text(f.id), Text(vis.replace("_", " "), style="dim" if f.visibility == "all" else "magenta"), Text(f.text))
    parts += [_section("Facts"), Padding(facts, (0, 0, 0, 2))]
    parts += [_section("Question"), Padding(Text(s.question, style="bold"), (0, 0, 0, 2))]

    if s.stakeholders:
        holders = Table(box=None, show_header=False, pad_edge=False)
        holders.add_column(no_wrap=True, style="cyan")
        holders.add_column(overflow="fold")
        for h in s.stakeholders:
            holders.add_row(Text(h.id), Text(h.wishes))
        parts += [_section("Stakeholders"), Padding(holders, (0, 0, 0, 2))]

    parts.append(_section(f"Conflicts ({len(s.conflicts)})"))
    if not s.conflicts:
        parts.append(Padding(Text("none: a diagnostic case, scored on its ground truth", style="dim"), (0, 0, 0, 2)))
    for c in s.conflicts:
        parts.append(Padding(Text.assemble((c.id, "bold cyan"), "  ", (c.title, "bold"), "  ", ("[" + ", ".join(c.dimensions) + "]", "dim")), (0, 0, 0, 2)))
        parts.append(Padding(Text(prose(c.description)), (0, 0, 0, 4)))
        options = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
        options.add_column("option", no_wrap=True, style="cyan")
        options.add_column("verdict", no_wrap=True)
        options.add_column("what the team would do / why", overflow="fold")
        for o in c.options:
            body = Text(o.text)
            body.append("\n" + o.rationale, style="dim")
            options.add_row(Text(o.id), Text(o.verdict, style=VERDICT_STYLE.get(o.verdict, "")), body)
        parts.append(Padding(options, (0, 0, 1, 4)))

    if s.rubric:
        rubric = Table(box=None, header_style="bold", pad_edge=False, padding=(0, 1))
        rubric.add_column("id", no_wrap=True, style="cyan")
        rubric.add_column("points", justify="right", no_wrap=True)
        rubric.add_column("dimension", no_wrap=True)
        rubric.add_column("conflict", no_wrap=True)
        rubric.add_column("criterion", overflow="fold")
        for r in s.rubric:
            rubric.add_row(Text(r.id), Text(f"{r.points:+d}", style="green" if r.points > 0 else "red"), Text(r.dimension), Text(r.conflict or "-"), Text(r.criterion))
        parts += [_section("Rubric"), Padding(rubric, (0, 0, 0, 2))]

    if s.red_flags:
        parts.append(_section("Red flags (must never match the final recommendation)"))
        for rf in s.red_flags:
            parts.append(Padding(Text.assemble((rf.id, "bold red"), "  ", rf.description, "  ", ("[" + rf.dimension + "]", "dim")), (0, 0, 0, 2)))
            parts.append(Padding(Text("pattern: " + rf.pattern, style="dim"), (0, 0, 0, 4)))

    if s.ground_truth:
        parts += [_section("Ground truth"), Padding(_kv_table(s.ground_truth), (0, 0, 0, 2))]
    if s.fixed_attributes:
        parts += [_section("Fixed attributes (not varied in fairness variants)"), Padding(Text(", ".join(s.fixed_attributes)), (0, 0, 0, 2))]
    if s.teaching_notes:
        parts += [_section("Teaching notes"), Padding(Text(prose(s.teaching_notes.strip())), (0, 0, 0, 2))]
    return Group(*parts)


def load_for_command(ref: str) -> tuple[Path, Scenario]:
    """A scenario from a path or library id, or a one-line `UserError`."""
    from tui.cli.loading import load_checked

    return load_checked(ref, find_scenario, scenario_problems, "scenarios")


@scenarios.command("show")
@click.argument("ref", metavar="ID_OR_PATH")
@click.option("--json", "as_json", is_flag=True, help="Print the validated scenario as JSON.")
def show(ref: str, as_json: bool) -> None:
    """Show one case: patient, presentation, facts, conflicts with their options and verdicts, rubric.

    \b
    Examples:
      grandrounds scenarios show insulin-error-disclosure
      grandrounds scenarios import agentclinic FILE.jsonl --out DIR
      grandrounds scenarios variants CASE --vary sex,race --out DIR
      grandrounds scenarios show my-cases/chest-pain.yaml --json
    """
    path, scenario = load_for_command(ref)
    if as_json:
        click.echo(json_visible(json.dumps(scenario.model_dump(mode="json"), indent=2, ensure_ascii=False)))
        return
    console().print(render_scenario(scenario, display_path(path)))


# -- validate ---------------------------------------------------------------------------------------


@scenarios.command("validate")
@click.argument("paths", nargs=-1, required=True, metavar="PATH...")
def validate(paths: tuple[str, ...]) -> None:
    """Check scenario files (or every *.yaml in folders) and report every problem.

    Prints `ok  FILE` for a valid file, or one `file:line: field: problem` line per problem.
    Exit status: 0 if all files are valid, 1 if any is not.

    \b
    Examples:
      grandrounds scenarios validate scenarios/library
      grandrounds scenarios validate my-case.yaml other-case.yaml
    """
    missing = [p for p in paths if not Path(p).exists()]
    if missing:
        raise UserError(f"{missing[0]}: no such file or folder")
    files: list[Path] = []
    for p in paths:
        found = iter_scenario_files(p)
        if not found:
            click.echo(f"warning: no *.yaml files in {p}", err=True)
        files += found
    bad = 0
    for f in files:
        _, problems = scenario_problems(f)
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


# -- schema -----------------------------------------------------------------------------------------


@scenarios.command("schema")
@click.option("--team", is_flag=True, help="Print the team file schema instead of the scenario schema.")
def schema(team: bool) -> None:
    """Print the JSON Schema of the scenario format (or, with --team, of the team format).

    Point your editor's YAML language server at it to get completion and checks while writing a case.

    \b
    Examples:
      grandrounds scenarios schema > scenario.schema.json
      grandrounds scenarios schema --team
    """
    if team:
        from agents.team_loader import team_json_schema

        click.echo(schema_text(team_json_schema()), nl=False)
    else:
        click.echo(schema_text(scenario_json_schema()), nl=False)


# -- import and variants live in their own module ------------------------------------------------
from tui.cli.scenarios_tools import import_cmd, variants  # noqa: E402

scenarios.add_command(import_cmd)
scenarios.add_command(variants)
