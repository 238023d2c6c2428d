"""`grandrounds bench`: print the performance figures the project tracks, each beside its target."""

from __future__ import annotations

import json
import subprocess
import sys
from collections.abc import Callable
from typing import Any

import click

from tui.cli.loading import load_case, load_team_ref

SECTIONS = ("engine", "embedded", "scoring", "batch", "tui")
DEFAULT_CASE = "insulin-error-disclosure"


def _engine(case: str, **_: Any) -> dict[str, Any]:
    from agents.bench import bench_engine

    team, snapshot = load_team_ref("default")
    figures = bench_engine(load_case(case), team, snapshot)
    figures["target"] = "turns_per_s >= 500 (scripted model, zero latency, transcript written, one core)"
    return figures


def _embedded(case: str, **_: Any) -> dict[str, Any]:
    from agents.bench import bench_embedded

    team, snapshot = load_team_ref("default")
    figures = bench_embedded(load_case(case), team, snapshot)
    figures["target"] = "seconds < 90 on 2 cores; valid_first_try_share >= 0.95"
    return figures


def _scoring(**_: Any) -> dict[str, Any]:
    from agents.bench import scripted_bench_transcript
    from transcripts.scoring.bench import bench_scoring

    figures = bench_scoring(1000, make_source=scripted_bench_transcript)
    figures["target"] = "transcripts_per_s >= 200 (deterministic scoring, 1,000 transcripts)"
    return figures


def _batch(**_: Any) -> dict[str, Any]:
    from agents.batch_bench import bench_batch

    return bench_batch()


def _tui(**_: Any) -> dict[str, Any]:
    from tui.app.bench import bench_tui

    figures = bench_tui()
    figures["target"] = "first paint < 2 s, replay step < 50 ms, peak memory < 400 MB (10,000 runs)"
    return figures


def _run_section(name: str, case: str) -> dict[str, Any]:
    try:
        return RUNNERS[name](case=case)
    except ImportError as exc:
        return {"skipped": f"not available in this install: {exc}"}


def _run_isolated(name: str, case: str) -> dict[str, Any]:
    """One section in a fresh interpreter: its peak memory is its own, not the sections' before it."""
    cmd = [sys.executable, "-m", "tui.cli.main", "bench", "--only", name, "--case", case, "--json", "--in-process"]
    done = subprocess.run(cmd, stdout=subprocess.PIPE, text=True, check=False)
    if done.returncode != 0:
        return {"failed": f"exit code {done.returncode} (see the messages above)"}
    return json.loads(done.stdout)[name]


RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "engine": _engine,
    "embedded": _embedded,
    "scoring": _scoring,
    "batch": _batch,
    "tui": _tui,
}


@click.command(
    epilog="""\b
Examples:
  grandrounds bench                       # every section (the embedded model takes about a minute)
  grandrounds bench --only engine --only scoring
  grandrounds bench --json > bench.json
"""
)
@click.option("--only", "only", multiple=True, type=click.Choice(SECTIONS), help="Run only these sections (repeatable).")
@click.option("--case", default=DEFAULT_CASE, show_default=True, help="Scenario for the engine and embedded-model sections.")
@click.option("--json", "as_json", is_flag=True, help="Print the figures as JSON.")
@click.option("--in-process", is_flag=True, help="Run the sections in this process (by default each runs in its own, so peak memory and CPU pinning are per section).")
def bench(only: tuple[str, ...], case: str, as_json: bool, in_process: bool) -> None:
    """Measure engine throughput, the embedded model, scoring, batches and the TUI; print the figures."""
    results: dict[str, Any] = {}
    for name in only or SECTIONS:
        if not in_process:
            click.echo(f"bench: {name} ...", err=True)
        results[name] = _run_section(name, case) if in_process else _run_isolated(name, case)
        if not as_json:
            click.echo(f"\n[{name}]")
            for key, value in results[name].items():
                click.echo(f"  {key:32} {value}")
    if as_json:
        click.echo(json.dumps(results, indent=2))
