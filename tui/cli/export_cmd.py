"""`grandrounds export`: runs in other tools' formats (Inspect AI eval logs)."""

from __future__ import annotations

from pathlib import Path

import click

from tui.cli.errors import UserError


@click.command(
    epilog="""\b
Examples:
  grandrounds export runs/exp1 --format inspect --out exp1.eval                  # one log per team x model
  grandrounds export runs/exp1 --format inspect --out logs/ --by team            # logs/team=default.eval, ...
  grandrounds export runs/single/CASE--default--s0--1a2b.jsonl --format inspect --out one.eval
  inspect view --log-dir logs/                                                    # then browse them in Inspect

\b
Inspect: needs the [inspect] extra (pip install -e '.[inspect]'). One eval log per group (--by takes
the grouping keys of `grandrounds compare`, comma-separated; default team,model), one sample per run:
the case as input, each member turn as a message attributed to its member, the resolution as output,
overall and per-dimension scores with the scorecard items as explanation. Failed and interrupted runs
are exported with their status. With several groups, --out FILE.eval becomes FILE--<group>.eval files;
a --out without .eval is a folder.
"""
)
@click.argument("runs", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--format", "fmt", type=click.Choice(["inspect"]), default="inspect", show_default=True, help="Output format.")
@click.option("--out", "out", type=click.Path(path_type=Path), required=True, help="FILE.eval, or a folder for one .eval per group.")
@click.option("--by", "by", default="team,model", show_default=True, help="Grouping keys, comma-separated (as in `compare --by`).")
def export(runs: tuple[Path, ...], fmt: str, out: Path, by: str) -> None:
    """Export the transcripts in RUNS (folders or .jsonl files) to another tool's format."""
    from transcripts.export_inspect import InspectExportError, export_inspect
    from tui.safe_text import visible

    try:
        result = export_inspect(list(runs), out, tuple(by.split(",")))
    except InspectExportError as exc:
        raise UserError(str(exc)) from None
    for problem in result.problems[:5]:
        click.echo(f"grandrounds: warning: {visible(problem, one_line=True)}", err=True)
    for path, (label, count) in zip(result.files, result.groups.items()):
        click.echo(f"wrote {visible(str(path), one_line=True)} ({count} samples; {visible(label, one_line=True)})")
