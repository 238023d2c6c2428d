"""`grandrounds compare`: group runs, and say which group is better, with confidence intervals."""

from __future__ import annotations

from pathlib import Path

import click

from tui.cli.errors import UserError
from tui.safe_text import json_visible, visible


@click.command(
    epilog="""\b
Examples:
  grandrounds compare runs/exp1 --by team                                  # Markdown table on stdout
  grandrounds compare runs/exp1 --by team --baseline default --format html --out report.html
  grandrounds compare runs/exp1 --by model --format csv --out by-model.csv
  grandrounds compare runs/exp1 --by temperature --format json             # any recorded setting key
  grandrounds compare runs/fairness --by team                              # adds variant consistency

\b
--by: team, model, protocol, scenario, seed, status, or a key of the runs' settings / sampling /
limits (temperature, max_rounds, ...), or a dotted path into run_started (scenario.specialty,
variant.attribute). Scores are each run's newest score event; run `grandrounds score` first for
unscored runs. Differences are paired by scenario and seed against --baseline (default: the first
group in alphabetical order); CIs are percentile bootstrap, 2,000 resamples, fixed seed.
"""
)
@click.argument("runs_dir", type=click.Path(exists=True, path_type=Path))
@click.option("--by", "by", default="team", show_default=True, help="What to group runs by.")
@click.option("--baseline", default=None, help="Group the others are compared with (paired differences, win rate).")
@click.option("--format", "fmt", type=click.Choice(["md", "csv", "json", "html"]), default=None, help="Output format (default: from --out's suffix, else md).")
@click.option("--out", "out_file", type=click.Path(dir_okay=False, path_type=Path), default=None, help="Write to this file instead of stdout.")
@click.option("--resamples", default=2000, show_default=True, type=click.IntRange(100, 100_000), help="Bootstrap resamples.")
def compare(runs_dir: Path, by: str, baseline: str | None, fmt: str | None, out_file: Path | None, resamples: int) -> None:
    """Compare groups of runs in RUNS_DIR per dimension: means, CIs, paired differences, win rates."""
    from transcripts.compare import CompareError, compare_runs, load_runs
    from transcripts.report import render

    if fmt is None:
        suffix = out_file.suffix.lower().lstrip(".") if out_file else ""
        fmt = {"htm": "html", "markdown": "md"}.get(suffix, suffix) if suffix in ("md", "csv", "json", "html", "htm", "markdown") else "md"
    runs, problems = load_runs(runs_dir)
    if not runs:
        hint = f"; first problem: {problems[0]}" if problems else ""
        raise UserError(f"{runs_dir}: no transcripts to compare{hint}")
    if not any(r.scored for r in runs):
        raise UserError(f"{runs_dir}: none of the {len(runs)} runs is scored; run `grandrounds score {runs_dir}` first")
    try:
        result = compare_runs(runs, by=by, baseline=baseline, resamples=resamples)
    except CompareError as exc:
        raise UserError(str(exc)) from None
    result.source = str(runs_dir)
    result.problems = problems
    text = render(result, fmt)
    if fmt in ("md", "csv"):  # text from transcripts: no raw escape in a terminal or a `cat`
        text = visible(text)
    elif fmt == "json":
        text = json_visible(text)
    if out_file is None:
        click.echo(text, nl=False)
        if fmt == "csv":  # Markdown, HTML and JSON say it themselves
            click.echo(visible(result.coverage(), one_line=True), err=True)
        return
    try:
        out_file.parent.mkdir(parents=True, exist_ok=True)
        out_file.write_text(text, encoding="utf-8")
    except OSError as exc:
        raise UserError(f"{out_file}: cannot write: {exc.strerror or exc}") from None
    click.echo(visible(f"wrote {out_file} ({fmt}; {result.coverage()}; {len(result.groups)} groups by {by}, baseline {result.baseline})", one_line=True), err=True)
