"""`grandrounds batch`: scenarios x teams x models x repeats, concurrent, resumable, accounted for."""

from __future__ import annotations

import asyncio
import json
import signal
import sys
from pathlib import Path
from typing import Any

import click
from rich.console import Console

from tui.cli.errors import UserError
from tui.cli.otel_option import otel_options, start_otel, stop_otel
from tui.cli.router_option import router_option, use_router
from tui.safe_text import json_visible

PLAN_CONFIRM_ABOVE = 5_000  # runs; a bigger plan needs --yes


def _count_cases(cases: tuple[str, ...]) -> int:
    """How many scenario files the CASE arguments name (a folder counts its files), without loading them."""
    from scenarios.loader import iter_scenario_files

    count = 0
    for case in cases:
        path = Path(case)
        try:
            count += len(iter_scenario_files(path)) if path.is_dir() else 1
        except Exception:  # noqa: BLE001 - planning reports bad arguments properly
            count += 1
    return count


STOP_SIGNALS = tuple(getattr(signal, name) for name in ("SIGINT", "SIGTERM") if hasattr(signal, name))


@click.command(
    epilog="""\b
Examples:
  grandrounds batch scenarios/library --team default --team parallel --model scripted/mixed --repeats 2 --out runs/exp1
  grandrounds batch scenarios/library --model openai/gpt-4o-mini --concurrency 8 --cache --max-failure-rate 0.2
  grandrounds batch insulin-error-disclosure hiv-partner-notification --team my-team.yaml --judge openai/gpt-4o-mini
  grandrounds batch scenarios/library --team default --team solo --team self-consistency --model scripted/mixed \
    --disclosure none --judge scripted/preferred --out runs/baselines   # does the council help?
  grandrounds batch scenarios/library --model openai/gpt-4o-mini -j 64 --limit openai=32 --limit openai:rpm=600
  grandrounds batch scenarios/library --model scripted/mixed --repeats 50 -j 200 --workers 2     # two local processes
  grandrounds batch scenarios/library --model openai/gpt-4o-mini -j 500 --executor ray --ray-address ray://head:10001
  OPENAI_API_BASE=http://127.0.0.1:8000/v1 OPENAI_API_KEY=none GRANDROUNDS_RESPONSE_FORMAT=json_schema \\
    grandrounds batch scenarios/library --model openai/Qwen2.5-7B-Instruct     # a local vLLM server
  grandrounds batch scenarios/library --model council --router router.yaml       # several deployments, litellm routing
  GRANDROUNDS_OTEL_ENDPOINT=http://127.0.0.1:4318 grandrounds batch scenarios/library --model scripted/mixed   # traces

\b
Re-running the same command resumes: finished runs (completed, limit_reached, failed) are skipped,
interrupted or killed ones run again; --retry-failed runs failed ones again too. Ctrl-C stops the
batch (so does SIGTERM): runs in flight end as `interrupted`, the summary is printed, exit code 130.
Exit code 3 means --max-failure-rate (or three refused API keys) stopped the batch; 4 means the
output could not be written (disk full): free space and run the same command again. A plan of more
than 5,000 runs needs --yes. Results: the transcripts and batch.json in --out.
Then: grandrounds compare OUT --by team
"""
)
@click.argument("cases", nargs=-1, required=True)
@click.option("--team", "teams", multiple=True, default=("default",), show_default=True, help="Team id (agents/teams/) or team YAML; repeat to compare teams.")
@click.option("--model", "models", multiple=True, help="litellm model for every member (overrides the teams); repeat for a model grid.")
@click.option("--repeats", default=1, show_default=True, type=click.IntRange(1), help="Runs per scenario, team and model, with seeds SEED .. SEED+R-1.")
@click.option("--seed", default=0, show_default=True, type=int, help="First seed.")
@click.option("--concurrency", "-j", default=4, show_default=True, type=click.IntRange(1, 1000), help="Runs in flight at once (one event loop).")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Output folder (default: <runs home>/<batch name>; the name is derived from the plan, so the same command resumes).")
@click.option("--batch", "batch_name", default=None, help="Batch name recorded in transcripts (default: the --out folder's name).")
@click.option("--cache", is_flag=True, help="Serve repeated model requests from <out>/.response-cache.sqlite (free, reproducible re-runs).")
@click.option("--retry-failed", is_flag=True, help="Run again the runs that ended `failed` (by default they count as finished).")
@click.option("--max-failure-rate", type=click.FloatRange(0.0, 1.0), default=None, help="Stop launching runs when more than this share of finished runs failed (after --min-runs).")
@click.option("--min-runs", default=10, show_default=True, type=click.IntRange(1), help="Finished runs needed before --max-failure-rate applies.")
@click.option("--score/--no-score", default=True, show_default=True, help="Score the transcripts that need it when the runs are done.")
@click.option("--judge", default=None, help="Judge model for rubric grading and, under --disclosure none, for mapping free text to the conflicts (adds judge calls, counted separately).")
@click.option("--judge-samples", default=1, show_default=True, type=click.IntRange(1, 9), help="Judge samples per rubric criterion.")
@click.option("--disclosure", type=click.Choice(["options", "none"]), default=None, help="Override every team's disclosure: options (agents pick option ids) or none (only the case and question; free text, scored by --judge).")
@click.option("--limit", "limit_specs", multiple=True, metavar="KEY=N|KEY:rpm=N|KEY:tpm=N",
              help="Cap calls per provider (openai) or model (openai/gpt-4o-mini) across the whole batch: N in flight, "
                   "requests or tokens per minute; 429s hold back that provider only. Repeatable.")
@click.option("--executor", type=click.Choice(["local", "ray"]), default="local", show_default=True,
              help="Where runs execute: this machine, or Ray actors (needs the [ray] extra); this process writes every transcript.")
@click.option("--workers", default=None, type=click.IntRange(1, 256),
              help="Worker processes (local, default 1: this process) or Ray actors (default: the cluster's CPUs), "
                   "each with its own event loop; -j is shared among them.")
@click.option("--ray-address", default=None, metavar="ADDR",
              help="Join this Ray cluster (ray://host:10001, or host:6379 on a cluster node); default: start a local one.")
@click.option("--json", "as_json", is_flag=True, help="Print the manifest (batch.json) on stdout instead of the text summary.")
@click.option("--no-progress", is_flag=True, help="No progress bar on stderr.")
@click.option("--yes", "-y", is_flag=True, help=f"Run a plan of more than {PLAN_CONFIRM_ABOVE:,} runs (e.g. --repeats 100000).")
@router_option
@otel_options
def batch(
    cases: tuple[str, ...], teams: tuple[str, ...], models: tuple[str, ...], repeats: int, seed: int, concurrency: int,
    out_dir: Path | None, batch_name: str | None, cache: bool, retry_failed: bool, max_failure_rate: float | None,
    min_runs: int, score: bool, judge: str | None, judge_samples: int, disclosure: str | None,
    limit_specs: tuple[str, ...], executor: str, workers: int | None, ray_address: str | None,
    as_json: bool, no_progress: bool, yes: bool, router_file: Path | None, otel: bool, otel_endpoint: str | None,
    otel_content: bool,
) -> None:
    """Run every CASE (scenario files, folders or library ids) with every --team, --model and seed."""
    from agents.batch import BatchError, plan_batch
    from agents.limits import LimitError, parse_limits

    try:
        limits = parse_limits(limit_specs)
    except LimitError as exc:
        raise UserError(str(exc)) from None
    if ray_address and executor != "ray":
        raise UserError("--ray-address needs --executor ray")
    if executor == "ray":
        from agents.executors import ray_available

        if not ray_available():
            raise UserError("--executor ray needs Ray: pip install 'grandrounds[ray]'")

    use_router(router_file)
    if start_otel(otel, otel_endpoint, otel_content):
        click.get_current_context().call_on_close(stop_otel)  # after scoring: scores go on the run spans
    planned = _count_cases(cases) * len(teams) * max(1, len(models)) * repeats  # before planning: it takes memory
    if planned > PLAN_CONFIRM_ABOVE and not yes:
        raise UserError(
            f"this plan has about {planned:,} runs ({_count_cases(cases)} case(s) x {len(teams)} team(s) x "
            f"{max(1, len(models))} model(s) x {repeats:,} repeat(s)); add --yes to run more than {PLAN_CONFIRM_ABOVE:,}"
        )
    try:
        plan = plan_batch(
            cases, teams, models=list(models) or [None], repeats=repeats, seed=seed, out_dir=out_dir, batch=batch_name,
            disclosure=disclosure,
        )
    except BatchError as exc:
        raise UserError(str(exc)) from None
    if not plan.runs:
        raise UserError("nothing to run: no scenarios")
    from tui.cli.run_cmd import _check_models

    _check_models({m for spec in plan.runs for m in spec.models.values()} | ({judge} if judge else set()))
    err = Console(stderr=True, highlight=False)
    err.print(
        f"batch {plan.batch}: {len(plan.runs)} runs ({plan.scenarios} scenarios x {len(teams)} team(s) x "
        f"{len(plan.models)} model(s) x {repeats} repeat(s)) -> {plan.out_dir}",
        markup=False,
    )
    command = ["grandrounds", "batch", *sys.argv[2:]] if len(sys.argv) > 1 and sys.argv[1] == "batch" else None
    try:
        summary = asyncio.run(
            _main(plan, concurrency, err, show_progress=not no_progress, max_failure_rate=max_failure_rate, min_runs_for_rate=min_runs,
                  retry_failed=retry_failed, cache=cache, score=score, judge=judge, judge_samples=judge_samples, command=command,
                  limits=limits, executor=executor, workers=workers, ray_address=ray_address)
        )
    except BatchError as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:  # a second Ctrl-C: give up at once
        click.echo(f"\ninterrupted; transcripts so far are in {plan.out_dir}", err=True)
        sys.exit(130)
    if as_json:
        click.echo(json_visible(json.dumps(summary.manifest(command, concurrency) | {"manifest": str(summary.manifest_path)}, indent=2, ensure_ascii=False)))
    else:
        _print_summary(summary)
    if summary.exit_code:
        sys.exit(summary.exit_code)


async def _main(plan: Any, concurrency: int, err: Console, *, show_progress: bool, **options: Any) -> Any:
    from agents.batch import run_batch

    loop = asyncio.get_running_loop()
    cancel = asyncio.Event()

    def on_sigint() -> None:
        cancel.set()
        err.print("\nstopping: waiting for runs in flight to record `interrupted` (Ctrl-C again to quit at once)", markup=False)
        for sig in STOP_SIGNALS:
            loop.remove_signal_handler(sig)  # a second Ctrl-C raises KeyboardInterrupt; a second SIGTERM kills

    # SIGTERM (timeout, container stop, Slurm) is handled like Ctrl-C: `interrupted`, batch.json, summary.
    for sig in STOP_SIGNALS:
        try:
            loop.add_signal_handler(sig, on_sigint)
        except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover - not the main thread / Windows
            pass
    view = _ProgressView(err, len(plan.runs)) if show_progress else None
    try:
        if view is not None:
            view.start()
        return await run_batch(plan, concurrency, on_progress=view.update if view else None, cancel=cancel, **options)
    finally:
        if view is not None:
            view.stop()
        for sig in STOP_SIGNALS:
            try:
                loop.remove_signal_handler(sig)
            except (NotImplementedError, RuntimeError, ValueError):  # pragma: no cover
                pass


class _ProgressView:
    """A rich progress bar on stderr: done / total, failed, skipped, tokens and cost so far."""

    def __init__(self, console: Console, total: int) -> None:
        from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn

        self.progress = Progress(
            TextColumn("{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[counts]}"),
            TimeElapsedColumn(),
            console=console,
            transient=False,
        )
        self.task = self.progress.add_task("runs", total=total, counts="")
        self.scoring = None

    def start(self) -> None:
        self.progress.start()

    def stop(self) -> None:
        self.progress.stop()

    def update(self, p: Any) -> None:
        counts = (
            f"done {p.finished}  failed {p.failed}  skipped {p.skipped}  running {p.running}"
            f"  tokens {_tokens(p.tokens)}  ${p.cost_usd:.4f}"
        )
        if p.interrupted:
            counts += f"  interrupted {p.interrupted}"
        self.progress.update(self.task, completed=p.done, counts=counts)
        if p.phase == "scoring" and p.to_score:
            if self.scoring is None:
                self.scoring = self.progress.add_task("scoring", total=p.to_score, counts="")
            self.progress.update(self.scoring, completed=p.scored)


def _tokens(n: int) -> str:
    if n >= 1_000_000:
        return f"{n / 1e6:.2f}M"
    if n >= 10_000:
        return f"{n / 1e3:.1f}k"
    return str(n)


def _print_summary(summary: Any) -> None:
    c = summary.counts
    out = click.echo
    ran = c["completed"] + c["limit_reached"] + c["failed"]
    out(
        f"batch {summary.plan.batch}: {c['planned']} runs planned; {ran} finished now "
        f"({c['completed']} completed, {c['limit_reached']} limit reached, {c['failed']} failed), "
        f"{c['skipped']} skipped (already done), {c['interrupted']} interrupted, {c['not_started']} not started"
    )
    now = summary.spent_now
    out(f"wall time {summary.wall_s:.1f} s; this invocation: {_tokens(now.prompt_tokens + now.completion_tokens)} tokens, ${now.cost_usd:.4f}")
    for key, data in (summary.limits or {}).items():
        out(f"limit {data['limit']}: peak {data['peak_in_flight']} in flight, {data['calls']} calls, "
            f"{data['throttled']} rate limited, {data['waited_s']:.1f} s waited")
    if summary.cache:
        out(f"response cache: {summary.cache['hits']} hits, {summary.cache['misses']} misses ({summary.cache['path']})")
    runs, judge = summary.run_usage, summary.judge_usage
    out(
        f"whole batch: runs {_tokens(runs.prompt_tokens + runs.completion_tokens)} tokens ${runs.cost_usd:.4f}; "
        f"judge {_tokens(judge.prompt_tokens + judge.completion_tokens)} tokens ${judge.cost_usd:.4f}; "
        f"total ${runs.cost_usd + judge.cost_usd:.4f}"
    )
    for team, data in summary.by_team.items():
        members = ", ".join(f"{m} {_tokens(u['tokens'])}" for m, u in data["by_member"].items())
        out(
            f"  team {team}: {data['runs']} runs, {_tokens(data['usage']['tokens'])} tokens, ${data['usage']['cost_usd']:.4f} "
            f"(${data['cost_per_run_usd']:.4f}/run); judge ${data['judge']['cost_usd']:.4f}; by member: {members}"
        )
    if c["scored"]:
        out(f"scored {c['scored']} transcript(s)")
    for problem in summary.score_errors[:5]:
        out(f"  scoring: {problem}")
    for note in getattr(summary, "repaired", [])[:5]:
        out(f"  repaired: {note}")
    failed = [o for o in summary.outcomes if o.status == "failed" and not o.skipped]
    for o in failed[:5]:
        out(f"  failed: {o.run_id}: {o.reason}")
    if len(failed) > 5:
        out(f"  ... and {len(failed) - 5} more failed runs (see batch.json)")
    if summary.stopped:
        out(f"stopped early: {summary.stopped}")
    if summary.interrupted:
        out("interrupted: runs in flight were recorded as `interrupted`; run the same command again to resume")
    out(f"results: {summary.plan.out_dir}  (manifest: {summary.manifest_path or 'not written'})")
    if getattr(summary, "write_failed", False) or getattr(summary, "manifest_error", None):
        click.echo(f"grandrounds: error: {summary.manifest_error or summary.stopped}", err=True)
    if not summary.interrupted:
        out(f"next: grandrounds compare {summary.plan.out_dir} --by team")
