"""`grandrounds score`: score transcripts (rules, optionally a judge model) and record the scores."""

from __future__ import annotations

import asyncio
import json
import sys
from dataclasses import dataclass
from pathlib import Path

import click
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn
from rich.table import Table
from rich.text import Text

from tui.cli.errors import UserError
from tui.cli.signals import sigterm_as_sigint
from tui.safe_text import json_visible, visible

PROGRESS_AT = 2  # show a progress bar from this many files
FILES_AT_ONCE = 4  # transcripts graded concurrently when a judge is used


@dataclass
class Outcome:
    path: Path
    status: str  # scored | current | unfinished | unreadable
    detail: str = ""
    scorecard: object | None = None  # Scorecard
    repaired: str | None = None  # note when a cut-off last line was repaired first


def collect(paths: tuple[Path, ...]) -> list[Path]:
    files: list[Path] = []
    for p in paths:
        if p.is_dir():
            files += sorted(q for q in p.rglob("*.jsonl") if q.is_file())
        elif p.is_file():
            files.append(p)
        else:
            raise UserError(f"{p}: no such file or folder; give a transcript (.jsonl) or a folder of them")
    return list(dict.fromkeys(files))


async def _score_one(path: Path, judge: str | None, samples: int, force: bool) -> Outcome:
    from agents.judging import gateway_complete
    from transcripts.scoring import ScoringError, appendable, ascore_transcript, current_score, needs_score
    from transcripts.repair import repair_cut_off
    from transcripts.store import read_transcript

    repaired = repair_cut_off(path)  # a cut-off last line is moved aside, then the run is scored again
    transcript = read_transcript(path)
    if transcript.started is None:
        why = transcript.problems[0] if transcript.problems else f"{path}: not a transcript"
        return Outcome(path, "unreadable", why, repaired=repaired)
    why_not = appendable(transcript)
    existing = current_score(transcript, judge)
    if not force and existing is not None and not needs_score(transcript, judge):
        return Outcome(path, "current", "already scored", existing.scorecard, repaired=repaired)
    try:
        card = await ascore_transcript(path, judge, samples, record=why_not is None, transcript=transcript, complete=gateway_complete)
    except ScoringError as exc:
        return Outcome(path, "unreadable", str(exc), repaired=repaired)
    if why_not is not None:
        return Outcome(path, "unfinished", f"{why_not}; scored but not recorded", card, repaired=repaired)
    return Outcome(path, "scored", "", card, repaired=repaired)


async def _score_all(files: list[Path], judge: str | None, samples: int, force: bool, console: Console,
                     outcomes: list[Outcome] | None = None) -> list[Outcome]:
    """Score `files`; each outcome is appended to `outcomes` as it is known (so Ctrl-C can report them)."""
    outcomes = [] if outcomes is None else outcomes
    show = len(files) >= PROGRESS_AT and console.is_terminal
    with Progress(
        TextColumn("scoring"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn(),
        console=console, transient=True, disable=not show,
    ) as progress:
        task = progress.add_task("score", total=len(files))
        if judge is None:  # CPU-bound: one file after the other
            for path in files:
                outcomes.append(await _score_one(path, judge, samples, force))
                progress.advance(task)
            return outcomes
        limit = asyncio.Semaphore(FILES_AT_ONCE)  # judge calls wait on the network: overlap files

        async def one(path: Path) -> Outcome:
            async with limit:
                result = await _score_one(path, judge, samples, force)
            outcomes.append(result)
            progress.advance(task)
            return result

        done = list(await asyncio.gather(*(one(p) for p in files)))
        outcomes[:] = done  # in file order
        return outcomes
    return outcomes


@click.command(
    epilog="""\b
Examples:
  grandrounds score runs/single/insulin-error-disclosure--default--s0--1a2b3c4d5e.jsonl
  grandrounds score runs/                               # every transcript without a current score
  grandrounds score runs/ --judge openai/gpt-4o-mini --judge-samples 3
  grandrounds score runs/batch-a --judge scripted/preferred --force --json
"""
)
@click.argument("paths", nargs=-1, required=True, type=click.Path(path_type=Path))
@click.option("--judge", default=None, help="Judge model (litellm name) that grades the rubric and maps free-text (disclosure none) resolutions to the conflicts; without it only the rules score.")
@click.option("--judge-samples", "samples", default=1, show_default=True, type=click.IntRange(1, 15), help="Judge samples per criterion; the majority decides and agreement is reported.")
@click.option("--force", is_flag=True, help="Score again even when a score from this scorer and judge exists (a new event is appended).")
@click.option("--json", "as_json", is_flag=True, help="Print JSON on stdout: the scorecard for one file, a list of results for several.")
def score(paths: tuple[Path, ...], judge: str | None, samples: int, force: bool, as_json: bool) -> None:
    """Score transcripts: PATH is a transcript (.jsonl) or a folder searched recursively.

    Appends a `score` event to each finished transcript that has no score from this scorer version
    and judge (earlier lines are never rewritten). Judge replies are cached beside the transcripts
    in .judge-cache.sqlite, so scoring again costs nothing.
    """
    files = collect(paths)
    if not files:
        raise UserError(f"no transcripts (*.jsonl) under {', '.join(map(str, paths))}")
    err = Console(stderr=True, highlight=False)
    out = Console(highlight=False)
    from transcripts.scoring import JudgeUnavailable

    outcomes: list[Outcome] = []
    try:
        with sigterm_as_sigint():
            asyncio.run(_score_all(files, judge, samples, force, err, outcomes))
    except JudgeUnavailable as exc:
        raise UserError(f"{exc}; check the --judge model name and its API key (nothing was recorded)") from None
    except KeyboardInterrupt:  # Ctrl-C or SIGTERM: say what was done; every recorded score is kept
        recorded = sum(o.status == "scored" for o in outcomes)
        click.echo(
            f"\ninterrupted: {len(outcomes)} of {len(files)} transcripts done ({recorded} scored and recorded, "
            f"{sum(o.status == 'current' for o in outcomes)} already scored); run the same command again to score the rest",
            err=True,
        )
        sys.exit(130)

    for o in outcomes:
        if o.repaired:
            err.print(Text(visible(f"repaired: {o.repaired}", one_line=True)), soft_wrap=True)
        if o.status == "unreadable":
            err.print(Text(f"skipped: {o.detail}"), soft_wrap=True)
        elif o.status == "unfinished" and len(outcomes) > 1:
            err.print(Text(f"not recorded: {o.path}: {o.detail}"), soft_wrap=True)

    single = len(paths) == 1 and paths[0].is_file()
    if single:
        _show_one(outcomes[0], out, err, as_json)
    else:
        _show_many(outcomes, out, as_json)
    if all(o.status == "unreadable" for o in outcomes):
        raise SystemExit(1)


def _show_one(o: Outcome, out: Console, err: Console, as_json: bool) -> None:
    from tui.cli.scorecard_view import render_scorecard

    if o.scorecard is None:
        return
    if as_json:
        click.echo(json_visible(json.dumps(o.scorecard.model_dump(mode="json"), indent=2, ensure_ascii=False)))  # type: ignore[union-attr]
    else:
        out.print(render_scorecard(o.scorecard, title=f"Scorecard: {o.path.name}"))  # type: ignore[arg-type]
    if o.status == "current":
        err.print(Text("already scored by this scorer and judge; shown from the transcript (--force to score again)", style="dim"), soft_wrap=True)
    elif o.status == "unfinished":
        err.print(Text(f"not recorded: {o.detail}"), soft_wrap=True)


def _show_many(outcomes: list[Outcome], out: Console, as_json: bool) -> None:
    from scenarios.model import DIMENSIONS

    if as_json:
        rows = [
            {
                "path": str(o.path),
                "status": o.status,
                "detail": o.detail,
                "overall": getattr(o.scorecard, "overall", None),
                "dimensions": {d: ds.score for d, ds in o.scorecard.dimensions.items()} if o.scorecard is not None else None,  # type: ignore[union-attr]
            }
            for o in outcomes
        ]
        click.echo(json_visible(json.dumps(rows, indent=2, ensure_ascii=False)))
        return
    counts = {s: sum(1 for o in outcomes if o.status == s) for s in ("scored", "current", "unfinished", "unreadable")}
    out.print(
        Text(
            f"{len(outcomes)} transcripts: {counts['scored']} scored, {counts['current']} already scored (skipped), "
            f"{counts['unfinished']} unfinished (not recorded), {counts['unreadable']} unreadable"
        ),
        soft_wrap=True,
    )
    cards = [o.scorecard for o in outcomes if o.scorecard is not None and o.status in ("scored", "current")]
    if not cards:
        return
    table = Table(title="Mean score over finished runs", title_justify="left", show_edge=False, pad_edge=False)
    table.add_column("dimension")
    table.add_column("mean", justify="right")
    table.add_column("runs assessed", justify="right", style="dim")
    for d in (*DIMENSIONS, "overall"):
        values = [c.overall if d == "overall" else c.dimensions[d].score for c in cards]  # type: ignore[union-attr]
        values = [v for v in values if v is not None]
        mean = f"{sum(values) / len(values):.1f}" if values else "not assessed"
        table.add_row(d, mean, f"{len(values)}/{len(cards)}")
    out.print(table)
