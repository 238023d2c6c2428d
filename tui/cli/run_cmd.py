"""`grandrounds run`: one deliberation, printed as it happens, recorded as a transcript."""

from __future__ import annotations

import json
import sys
from pathlib import Path

import click
from rich.console import Console

from tui.cli.errors import UserError
from tui.cli.loading import load_case, load_team_ref
from tui.cli.otel_option import otel_options, start_otel, stop_otel
from tui.cli.router_option import router_option, use_router
from tui.cli.signals import sigterm_as_sigint
from tui.safe_text import json_visible


@click.command(
    epilog="""\b
Examples:
  grandrounds run insulin-error-disclosure                   # a library case by id, default team, embedded model
  grandrounds run scenarios/library/CASE.yaml --model scripted/preferred
  grandrounds run CASE --team agents/teams/moderated.yaml --model openai/gpt-4o-mini
  grandrounds run CASE --json > result.json             # machine-readable summary on stdout
  grandrounds run CASE --model council --router router.yaml   # 'council' spread over the file's deployments
  grandrounds run CASE --otel --otel-endpoint http://127.0.0.1:4318   # OpenTelemetry traces to a local collector
  grandrounds run CASE --model scripted/preferred --disclosure none --judge scripted/preferred
                                                        # no options shown; the judge maps the free text
"""
)
@click.argument("case")
@click.option("--team", "team_ref", default="default", show_default=True, help="Team id (agents/teams/) or path to a team YAML.")
@click.option("--model", default=None, help="litellm model for every member and the chair (overrides the team), e.g. local/smollm2, scripted/preferred, openai/gpt-4o-mini, ollama/llama3.1.")
@click.option("--seed", default=0, show_default=True, type=int, help="Seed passed to every model call; same inputs and seed give the same run id.")
@click.option("--batch", default="single", show_default=True, help="Batch name: the transcript goes to <runs>/<batch>/.")
@click.option("--out", "out_dir", type=click.Path(file_okay=False, path_type=Path), default=None, help="Folder for the transcript (default: ./runs/<batch> or $GRANDROUNDS_HOME/runs/<batch>).")
@click.option("--disclosure", type=click.Choice(["options", "none"]), default=None, help="What the agents see of the conflicts (default: the team's setting): options (titles and options; they pick ids) or none (only the case and the question; free text, mapped to the conflicts by the judge).")
@click.option("--judge", default=None, help="Judge model for scoring (overrides the team's judge), e.g. scripted/preferred or openai/gpt-4o-mini; needed to score conflicts under --disclosure none.")
@click.option("--score/--no-score", default=True, show_default=True, help="Score the run when it ends and show the scorecard.")
@click.option("--json", "as_json", is_flag=True, help="Print a JSON summary on stdout instead of the live transcript.")
@click.option("--quiet", "-q", is_flag=True, help="Print only the summary line.")
@router_option
@otel_options
def run(
    case: str, team_ref: str, model: str | None, seed: int, batch: str, out_dir: Path | None, disclosure: str | None,
    judge: str | None, score: bool, as_json: bool, quiet: bool, router_file: Path | None, otel: bool, otel_endpoint: str | None,
    otel_content: bool,
) -> None:
    """Run the council on CASE (a scenario id from the library or a path to a scenario YAML)."""
    from agents.runner import RunSpec, run_sync
    from tui.cli.stream import EventPrinter

    use_router(router_file)
    if start_otel(otel, otel_endpoint, otel_content):
        click.get_current_context().call_on_close(stop_otel)  # after scoring: scores go on the run span
    scenario = load_case(case)
    team, snapshot = load_team_ref(team_ref)
    spec = RunSpec(
        scenario=scenario, team=team, team_snapshot=snapshot, model=model, seed=seed, batch=batch, out_dir=out_dir,
        disclosure=disclosure,
    )
    judge = judge or team.judge
    _check_models(set(spec.models.values()) | ({judge} if judge else set()))

    console = Console(stderr=as_json, highlight=False, soft_wrap=False)
    printer = None if (as_json or quiet) else EventPrinter(console)
    from transcripts.locks import TranscriptBusy
    from transcripts.writable import OutputError, OutputWriteError, check_output_dir

    try:
        check_output_dir(spec.directory)
        with sigterm_as_sigint():
            result = run_sync(spec, on_event=printer)
    except (TranscriptBusy, OutputError, OutputWriteError) as exc:
        raise UserError(str(exc)) from None
    except KeyboardInterrupt:
        click.echo(f"\ninterrupted: the partial transcript is at {spec.path}", err=True)
        sys.exit(130)

    if score and spec.disclosure_level == "none" and not judge and spec.scenario.conflicts:
        click.echo(
            "grandrounds: note: free-text run (--disclosure none) scored without a judge: its conflicts are "
            "'not assessed'; add --judge MODEL (e.g. scripted/preferred) to map the text to the conflicts' options",
            err=True,
        )
    scorecard = None
    if score and result.status in ("completed", "limit_reached", "failed"):
        scorecard = _score(result.path, judge, console if not (as_json or quiet) else None)

    if as_json:
        summary = {
            "run_id": result.run_id,
            "path": str(result.path),
            "status": result.status,
            "reason": result.reason,
            "turns": result.turns,
            "tokens": result.usage.prompt_tokens + result.usage.completion_tokens,
            "cost_usd": result.usage.cost_usd,
            "duration_s": round(result.duration_s, 3),
            "resolution": _resolution(result.path),
            "scorecard": scorecard.model_dump(mode="json") if scorecard is not None else None,
        }
        click.echo(json_visible(json.dumps(summary, indent=2, ensure_ascii=False)))
    else:
        overall = f"  overall score {scorecard.overall:.0f}/100" if scorecard is not None and scorecard.overall is not None else ""
        click.echo(f"{result.status}: {result.path}{overall}")
    if result.status == "failed":
        sys.exit(1)


def _check_models(models: set[str]) -> None:
    """Fail before the run starts on a bad model name (see agents/model_specs.py), a malformed
    response-format setting, or when the embedded model is asked for but not installed."""
    from agents.gateway.dialects import FormatSettingError, check_setting
    from agents.model_specs import model_problems

    try:
        check_setting()
    except FormatSettingError as exc:
        raise UserError(str(exc)) from None
    problems = model_problems(sorted(models))
    if problems:
        more = f" (and {len(problems) - 1} more)" if len(problems) > 1 else ""
        raise UserError(problems[0] + more)
    if any(m.startswith("local/") for m in models):
        from agents.providers.local import LocalModelUnavailable, check_available

        try:
            check_available()
        except LocalModelUnavailable as exc:
            raise UserError(str(exc)) from None


def _score(path: Path, judge: str | None, console: Console | None):
    """Score with the team's judge when it has one; fall back to rules only if the judge cannot answer."""
    from agents.judging import gateway_complete
    from transcripts.scoring import JudgeUnavailable, score_transcript

    try:
        scorecard = score_transcript(path, judge=judge, complete=gateway_complete)
    except JudgeUnavailable as exc:
        click.echo(f"grandrounds: warning: judge {judge} unavailable ({exc}); scored with rules only", err=True)
        scorecard = score_transcript(path)
    if console is not None:
        from tui.cli.scorecard_view import render_scorecard

        console.print(render_scorecard(scorecard))
    return scorecard


def _resolution(path: Path):
    from transcripts.store import read_transcript

    event = read_transcript(path).resolution
    return event.resolution.model_dump(mode="json") if event and event.resolution is not None else None
