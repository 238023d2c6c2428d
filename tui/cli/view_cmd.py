"""`grandrounds view` (browse and replay runs) and `grandrounds demo` (pick a case, watch it live)."""

from __future__ import annotations

from pathlib import Path

import click

from tui.cli.errors import UserError
from tui.cli.router_option import router_option, use_router


@click.command(
    epilog="""\b
Examples:
  grandrounds view                         # the runs in ./runs (or $GRANDROUNDS_HOME/runs)
  grandrounds view runs/batch-2025-03      # one batch folder
  grandrounds view runs/single/insulin-error-disclosure--default--s0--1a2b3c4d5e.jsonl
\b
Keys: enter replays a run, space plays, arrows step, c compares, t summarises teams, ? lists every key.
"""
)
@click.argument("path", required=False, type=click.Path(path_type=Path))
def view(path: Path | None) -> None:
    """Browse runs in a folder, or replay one transcript (.jsonl) step by step."""
    from transcripts.paths import runs_home

    target = path if path is not None else runs_home()
    if not target.exists():
        hint = "" if path is not None else " (run something first, e.g. `grandrounds demo`, or pass a folder)"
        raise UserError(f"{target}: no such file or folder{hint}")
    if target.is_file() and target.suffix != ".jsonl":
        raise UserError(f"{target}: not a transcript; give a folder of runs or a .jsonl transcript")
    from tui.app import GrandroundsApp

    app = GrandroundsApp(transcript=target) if target.is_file() else GrandroundsApp(folder=target)
    app.run()


@click.command(
    epilog="""\b
Examples:
  grandrounds demo                                     # pick a case and a team, watch the council live
  grandrounds demo --case insulin-error-disclosure --team default
  grandrounds demo --model 'scripted/preferred?latency=0.3'   # no model needed: the scripted council
  grandrounds demo --model council --router router.yaml        # model names from a litellm Router file
\b
Escape (or ctrl+c) cancels a live run; its transcript keeps what was said and is still scored.
"""
)
@click.option("--model", default=None, help="Model for every member (default: the team's own models).")
@click.option("--team", default=None, help="Team id or file (default: pick one in the app).")
@click.option("--case", "case", default=None, help="Case id or scenario file (default: pick one in the app).")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed passed to every model call.")
@click.option("--out", "out_dir", default=None, type=click.Path(path_type=Path, file_okay=False), help="Folder for the transcript (default: <runs home>/demo).")
@router_option
def demo(model: str | None, team: str | None, case: str | None, seed: int, out_dir: Path | None, router_file: Path | None) -> None:
    """Pick a case from the library and a team, then watch the council deliberate live."""
    use_router(router_file)
    if case is not None:
        from tui.cli.loading import load_case

        load_case(case)  # a bad case is a one-line error before the UI starts
    if team is not None:
        from tui.cli.loading import load_team_ref

        load_team_ref(team)
    from tui.app import DemoOptions, GrandroundsApp

    GrandroundsApp(demo=DemoOptions(case=case, team=team, model=model, seed=seed, out_dir=out_dir)).run()
