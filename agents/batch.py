"""Batches: scenarios x teams x models x repeats, run concurrently on one event loop, resumable by run id.

    plan = plan_batch(["scenarios/library"], ["default", "parallel"], models=["scripted/mixed"], repeats=2)
    summary = asyncio.run(run_batch(plan, concurrency=8))
    summary.counts, summary.totals, summary.manifest_path

How it behaves:
- Every run has a deterministic id (agents.runner), so its transcript path is known before it starts.
  A run whose transcript already ends with `run_ended` in `completed`, `limit_reached` or `failed` is
  **skipped**. `failed` counts as finished: a failed run is a result (the model could not produce a
  valid resolution, or its provider gave up), running it again costs money and, with the same model
  and seed, usually fails the same way. `retry_failed=True` (`--retry-failed`) runs failed ones again.
  A transcript that ended `interrupted`, or has no `run_ended` at all (killed), is run again from the
  start; the runner replaces the file, so there is never a second transcript for a run.
- Runs are isolated: a run that fails (provider errors, invalid replies, even an unexpected exception)
  is recorded with its reason and the batch goes on.
- `cancel` (the CLI sets it on Ctrl-C): no new runs start, in-flight runs end with `interrupted`
  transcripts, and `run_batch` returns a summary with `interrupted=True`.
- `max_failure_rate`: once at least `min_runs_for_rate` runs have finished in this invocation, more than
  that share of them failing stops the launching of new runs (in-flight ones finish); the summary says
  why (`stopped`).
- `cache=True`: model replies are served from and stored in `<out>/.response-cache.sqlite`
  (agents/cache.py), so repeating an experiment makes no provider calls.
- After the runs, transcripts that need a score are scored (rules; `judge` adds rubric grading).
- `<out>/batch.json` is the manifest: the command, the plan, counts, and token/cost totals per run,
  per team, per member, with judge calls counted apart.
"""

from __future__ import annotations

import asyncio
import json
import os
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.runner import RunSpec, arun
from agents.team import Team
from scenarios.model import Scenario
from transcripts.events import FINISHED_STATUSES, Event, RunEnded, Usage
from transcripts.paths import content_hash, runs_home, slug

__all__ = [
    "BatchError",
    "BatchPlan",
    "BatchProgress",
    "BatchSummary",
    "MANIFEST_FILENAME",
    "plan_batch",
    "run_batch",
    "transcript_state",
]

MANIFEST_FILENAME = "batch.json"
LOCK_FILENAME = ".batch.lock"
MIN_RUNS_FOR_RATE = 10


class BatchError(Exception):
    """A batch that cannot start: bad cases or teams, or another batch running in the same folder."""


# -- the plan ------------------------------------------------------------------------------------------


@dataclass
class BatchPlan:
    """Every run of the batch, in launch order, and what made them."""

    runs: list[RunSpec]
    out_dir: Path
    batch: str
    cases: list[str] = field(default_factory=list)
    teams: list[str] = field(default_factory=list)
    models: list[str | None] = field(default_factory=list)
    repeats: int = 1
    seed: int = 0
    scenarios: int = 0
    duplicates: int = 0

    def describe(self) -> dict[str, Any]:
        return {
            "batch": self.batch,
            "out_dir": str(self.out_dir),
            "cases": self.cases,
            "teams": self.teams,
            "models": [m or "(team's own)" for m in self.models],
            "repeats": self.repeats,
            "seeds": list(range(self.seed, self.seed + self.repeats)),
            "scenarios": self.scenarios,
            "runs": len(self.runs),
        }


def _scenario_files(cases: Sequence[str | Path]) -> list[Path]:
    from scenarios.loader import ScenarioError, find_scenario, iter_scenario_files

    files: list[Path] = []
    for ref in cases:
        try:
            found = iter_scenario_files(ref) if Path(ref).is_dir() else [find_scenario(ref)]
        except ScenarioError as exc:
            raise BatchError(str(exc)) from None
        if not found:
            raise BatchError(f"{ref}: no scenario files (*.yaml) in this folder")
        files.extend(found)
    return files


def _load_scenarios(files: list[Path]) -> list[Scenario]:
    from scenarios.loader import scenario_problems

    scenarios: list[Scenario] = []
    problems: list[str] = []
    seen: set[Path] = set()
    for path in files:
        key = path.resolve()
        if key in seen:
            continue
        seen.add(key)
        scenario, found = scenario_problems(path)
        if scenario is None:
            problems.extend(str(p) for p in found)
        else:
            scenarios.append(scenario)
    if problems:
        more = f" (and {len(problems) - 1} more; `grandrounds scenarios validate` lists them)" if len(problems) > 1 else ""
        raise BatchError(problems[0] + more)
    return scenarios


def _load_teams(teams: Sequence[str | Path]) -> list[tuple[Team, dict[str, Any]]]:
    from agents.team_loader import TeamError, find_team, load_team, team_snapshot

    loaded = []
    for ref in teams:
        try:
            path = find_team(ref)
            team = load_team(path)
            loaded.append((team, team_snapshot(team, path)))
        except TeamError as exc:
            raise BatchError(str(exc)) from None
    return loaded


def default_batch_name(run_ids: Sequence[str], teams: Sequence[Team]) -> str:
    """Deterministic, so the same command resumes in the same folder: `batch-<teams>-<hash of the run ids>`."""
    names = "-".join(dict.fromkeys(t.id for t in teams))
    return f"batch-{slug(names, 40)}-{content_hash(sorted(run_ids))[:8]}"


def plan_batch(
    cases: Sequence[str | Path],
    teams: Sequence[str | Path] = ("default",),
    *,
    models: Sequence[str | None] = (None,),
    repeats: int = 1,
    seed: int = 0,
    out_dir: Path | None = None,
    batch: str | None = None,
) -> BatchPlan:
    """Scenarios x teams x models x seeds (seed .. seed + repeats - 1), deduplicated by run id.

    CASES are scenario files, folders of them, or library ids; teams are ids or team files. Raises
    `BatchError` with the first problem found (every scenario is validated before anything runs).
    """
    if repeats < 1:
        raise BatchError("--repeats must be at least 1")
    if not cases:
        raise BatchError("give at least one scenario file, folder or id")
    scenarios = _load_scenarios(_scenario_files(cases))
    loaded_teams = _load_teams(teams or ("default",))
    models = list(models) or [None]
    specs: list[RunSpec] = []
    seen: set[str] = set()
    duplicates = 0
    shared: dict[int, tuple[dict[str, Any], str]] = {}
    team_hashes: dict[int, str] = {}
    for scenario in scenarios:
        # One JSON dump and hash per scenario and team, shared by all their runs (flat memory for big batches).
        scenario_json = scenario.model_dump(mode="json")
        shared[id(scenario)] = (scenario_json, content_hash(scenario_json))
    for team, snapshot in loaded_teams:
        team_hashes[id(team)] = content_hash(snapshot)
    for scenario in scenarios:
        for team, snapshot in loaded_teams:
            for model in models:
                for s in range(seed, seed + repeats):
                    spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model=model or None, seed=s)
                    spec.__dict__["scenario_json"], spec.__dict__["scenario_hash"] = shared[id(scenario)]
                    spec.__dict__["team_hash"] = team_hashes[id(team)]
                    if spec.run_id in seen:
                        duplicates += 1
                        continue
                    seen.add(spec.run_id)
                    specs.append(spec)
    name = batch or (Path(out_dir).name if out_dir else default_batch_name([s.run_id for s in specs], [t for t, _ in loaded_teams]))
    folder = Path(out_dir) if out_dir else runs_home() / slug(name, 80)
    for spec in specs:
        spec.batch = name
        spec.out_dir = folder
    return BatchPlan(
        runs=specs, out_dir=folder, batch=name, cases=[str(c) for c in cases], teams=[str(t) for t in teams],
        models=models, repeats=repeats, seed=seed, scenarios=len(scenarios), duplicates=duplicates,
    )


# -- what is on disk already --------------------------------------------------------------------------


@dataclass
class TranscriptState:
    """What the end of a transcript says, read without parsing every event."""

    exists: bool
    status: str | None = None  # run_ended status, None when the run never ended
    reason: str = ""
    usage: Usage = field(default_factory=Usage)
    usage_by_member: dict[str, Usage] = field(default_factory=dict)
    judge_usage: Usage = field(default_factory=Usage)
    scores: int = 0


def transcript_state(path: Path) -> TranscriptState:
    """The last `run_ended` of a transcript and its judge spend (score events); never raises."""
    try:
        data = Path(path).read_bytes()
    except OSError:
        return TranscriptState(exists=False)
    state = TranscriptState(exists=True)
    for raw in reversed(data.split(b"\n")):
        if b'"type":"score"' in raw:
            try:
                usage = json.loads(raw).get("usage") or {}
            except ValueError:
                continue
            state.scores += 1
            state.judge_usage = state.judge_usage + Usage(**usage)
        elif b'"type":"run_ended"' in raw:
            try:
                ended = RunEnded.model_validate_json(raw)
            except ValueError:
                continue  # a cut-off last line: the run did not end cleanly
            state.status, state.reason = ended.status, ended.reason
            state.usage, state.usage_by_member = ended.usage, ended.usage_by_member
            break
    return state


# -- progress and the summary -----------------------------------------------------------------------


@dataclass
class BatchProgress:
    """Live counters, updated as runs start and end (one object, mutated; read it, don't keep copies)."""

    total: int = 0
    skipped: int = 0
    started: int = 0
    running: int = 0
    completed: int = 0
    limit_reached: int = 0
    failed: int = 0
    interrupted: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    phase: str = "running"  # running | scoring | done
    scored: int = 0
    to_score: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.limit_reached + self.failed

    @property
    def done(self) -> int:
        """Runs accounted for: skipped, finished now, or interrupted."""
        return self.skipped + self.finished + self.interrupted

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class RunOutcome:
    run_id: str
    path: Path
    scenario_id: str
    team_id: str
    model: str | None
    seed: int
    status: str  # completed | limit_reached | failed | interrupted | not_started
    reason: str = ""
    skipped: bool = False
    duration_s: float = 0.0

    def to_json(self, base: Path) -> dict[str, Any]:
        try:
            rel = str(self.path.relative_to(base))
        except ValueError:
            rel = str(self.path)
        return {
            "run_id": self.run_id, "path": rel, "scenario": self.scenario_id, "team": self.team_id,
            "model": self.model, "seed": self.seed, "status": self.status, "skipped": self.skipped,
            "reason": self.reason, "duration_s": round(self.duration_s, 3),
        }


def _usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "tokens": usage.prompt_tokens + usage.completion_tokens,
        "cost_usd": round(usage.cost_usd, 6),
    }


@dataclass
class BatchSummary:
    plan: BatchPlan
    progress: BatchProgress
    outcomes: list[RunOutcome]
    wall_s: float = 0.0
    interrupted: bool = False
    stopped: str | None = None  # why launching stopped early (failure threshold), if it did
    not_started: int = 0
    run_usage: Usage = field(default_factory=Usage)  # every run of the plan on disk (this and earlier invocations)
    judge_usage: Usage = field(default_factory=Usage)
    by_team: dict[str, dict[str, Any]] = field(default_factory=dict)
    spent_now: Usage = field(default_factory=Usage)  # model calls made by this invocation (runs only)
    cache: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None  # per limit key: the limit, peak in flight, calls, 429s, waiting
    executor: dict[str, Any] | None = None  # where the runs ran, when not on this event loop
    scored: int = 0
    score_errors: list[str] = field(default_factory=list)
    manifest_path: Path | None = None

    @property
    def counts(self) -> dict[str, int]:
        p = self.progress
        return {
            "planned": p.total, "skipped": p.skipped, "completed": p.completed, "limit_reached": p.limit_reached,
            "failed": p.failed, "interrupted": p.interrupted, "not_started": self.not_started, "scored": self.scored,
        }

    @property
    def exit_code(self) -> int:
        """0 all good; 130 interrupted; 3 stopped by the failure threshold."""
        if self.interrupted:
            return 130
        if self.stopped:
            return 3
        return 0

    def manifest(self, command: Sequence[str] | None = None, concurrency: int | None = None) -> dict[str, Any]:
        total_cost = self.run_usage.cost_usd + self.judge_usage.cost_usd
        return {
            "kind": "grandrounds-batch",
            "version": 1,
            "command": list(command) if command else None,
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "plan": {**self.plan.describe(), "concurrency": concurrency},
            "counts": self.counts,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "wall_s": round(self.wall_s, 3),
            "this_invocation": _usage_json(self.spent_now),
            "totals": {
                "runs": _usage_json(self.run_usage),
                "judge": _usage_json(self.judge_usage),
                "cost_usd": round(total_cost, 6),
            },
            "by_team": self.by_team,
            "cache": self.cache,
            "limits": self.limits,
            "executor": self.executor or {"kind": "local", "workers": 1},
            "score_errors": self.score_errors,
            "runs": [o.to_json(self.plan.out_dir) for o in self.outcomes],
        }


# -- running ------------------------------------------------------------------------------------------


class _FolderLock:
    """One batch at a time per folder (an advisory lock; gone when the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILENAME
        self._fh: Any = None

    def __enter__(self) -> _FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            raise BatchError(f"another batch is running in {self.path.parent}; wait for it or use another --out") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


async def run_batch(
    plan: BatchPlan,
    concurrency: int = 4,
    *,
    on_progress: Callable[[BatchProgress], None] | None = None,
    cancel: asyncio.Event | None = None,
    max_failure_rate: float | None = None,
    min_runs_for_rate: int = MIN_RUNS_FOR_RATE,
    retry_failed: bool = False,
    cache: bool = False,
    score: bool = True,
    judge: str | None = None,
    judge_samples: int = 1,
    command: Sequence[str] | None = None,
    write_manifest: bool = True,
    limits: dict[str, Any] | None = None,
    executor: str = "local",
    workers: int | None = None,
    ray_address: str | None = None,
) -> BatchSummary:
    """Run the plan with at most `concurrency` runs in flight; see the module docstring.

    `limits` ({key: agents.limits.Limit}, from `--limit`) caps calls per provider or model across the
    whole batch. `executor="local"` with `workers=1` runs everything on this event loop; `workers>1`
    spreads runs over that many local processes, `executor="ray"` over Ray actors (agents/executors/);
    either way this process plans, writes every transcript, resumes, caches, scores and accounts.
    """
    if concurrency < 1:
        raise BatchError("--concurrency must be at least 1")
    if executor not in ("local", "ray"):
        raise BatchError(f"--executor {executor!r}: use local or ray")
    if workers is not None and workers < 1:
        raise BatchError("--workers must be at least 1")
    if max_failure_rate is not None and not 0.0 <= max_failure_rate <= 1.0:
        raise BatchError("--max-failure-rate must be between 0 and 1")
    started_at = time.perf_counter()
    out = plan.out_dir
    out.mkdir(parents=True, exist_ok=True)
    cancel = cancel or asyncio.Event()
    progress = BatchProgress(total=len(plan.runs))
    notify = on_progress or (lambda _p: None)
    summary = BatchSummary(plan=plan, progress=progress, outcomes=[])
    with _FolderLock(out):
        outcomes: dict[str, RunOutcome] = {}
        todo: list[RunSpec] = []
        finished = set(FINISHED_STATUSES) - ({"failed"} if retry_failed else set())
        for spec in plan.runs:
            state = transcript_state(spec.path)
            if state.status in finished:
                progress.skipped += 1
                outcomes[spec.run_id] = RunOutcome(
                    spec.run_id, spec.path, spec.scenario.id, spec.team.id, spec.model, spec.seed, state.status or "", state.reason, skipped=True
                )
            else:
                todo.append(spec)
        notify(progress)

        response_cache = None
        token = None
        remote = (executor == "ray" or (workers or 1) > 1) and bool(todo)  # nothing to run: start no workers
        if not todo and (executor == "ray" or (workers or 1) > 1):
            summary.executor = {"kind": "ray" if executor == "ray" else "processes", "workers": 0, "note": "nothing to run"}
        if cache and not remote:
            from agents.cache import CACHE_FILENAME, ResponseCache
            from agents.gateway import use_response_cache

            response_cache = ResponseCache(out / CACHE_FILENAME)
            token = use_response_cache(response_cache)
        limiter_token = None
        limiter = None
        try:
            if remote:
                from agents.executors import run_elsewhere

                stop_reason, summary.executor = await run_elsewhere(
                    todo, concurrency, progress, outcomes, notify, cancel, max_failure_rate, min_runs_for_rate,
                    executor=executor, workers=workers, address=ray_address, limits=limits or {},
                    cache_path=(out / _cache_filename()) if cache else None,
                )
                summary.cache = summary.executor.pop("cache", None)
                summary.limits = summary.executor.pop("limits", None)
            else:
                if limits:
                    from agents.limits import Limiter, use_limiter

                    limiter = Limiter(limits)
                    limiter_token = use_limiter(limiter)
                stop_reason = await _run_all(todo, concurrency, progress, outcomes, notify, cancel, max_failure_rate, min_runs_for_rate)
        finally:
            if limiter_token is not None:
                from agents.limits import reset_limiter

                reset_limiter(limiter_token)
            if limiter is not None:
                summary.limits = limiter.stats()
            if token is not None:
                from agents.gateway import _RESPONSE_CACHE

                _RESPONSE_CACHE.reset(token)
            if response_cache is not None:
                summary.cache = {
                    "path": str(response_cache.path), "hits": response_cache.hits, "misses": response_cache.misses,
                    "stored": response_cache.stored, "error": response_cache.error,
                }
                response_cache.close()
        summary.interrupted = cancel.is_set()
        summary.stopped = stop_reason
        for spec in todo:
            if spec.run_id not in outcomes:
                summary.not_started += 1
                outcomes[spec.run_id] = RunOutcome(spec.run_id, spec.path, spec.scenario.id, spec.team.id, spec.model, spec.seed, "not_started")
        summary.outcomes = [outcomes[s.run_id] for s in plan.runs]
        summary.spent_now = Usage(prompt_tokens=progress.prompt_tokens, completion_tokens=progress.completion_tokens, cost_usd=progress.cost_usd)

        if score and not summary.interrupted:
            progress.phase = "scoring"
            notify(progress)
            await _score_all(plan, summary, judge, judge_samples, concurrency, cancel, notify)
            summary.interrupted = cancel.is_set()
        progress.phase = "done"
        _account(plan, summary)
        summary.wall_s = time.perf_counter() - started_at
        if write_manifest:
            summary.manifest_path = write_batch_manifest(summary, command, concurrency)
        notify(progress)
    return summary


async def _run_all(
    todo: list[RunSpec],
    concurrency: int,
    progress: BatchProgress,
    outcomes: dict[str, RunOutcome],
    notify: Callable[[BatchProgress], None],
    cancel: asyncio.Event,
    max_failure_rate: float | None,
    min_runs: int,
) -> str | None:
    """A fixed pool of workers pulling from one iterator: memory does not grow with the batch."""
    queue = iter(todo)
    stop: list[str] = []

    def on_event(event: Event) -> None:
        usage = getattr(event, "usage", None)
        if usage is not None and not isinstance(event, RunEnded):
            progress.prompt_tokens += usage.prompt_tokens
            progress.completion_tokens += usage.completion_tokens
            progress.cost_usd += usage.cost_usd

    def check_threshold() -> None:
        if max_failure_rate is None or stop or progress.finished < max(1, min_runs):
            return
        rate = progress.failed / progress.finished
        if rate > max_failure_rate:
            stop.append(
                f"failure threshold: {progress.failed} of {progress.finished} finished runs failed "
                f"({rate:.0%} > {max_failure_rate:.0%}); no new runs were started"
            )

    async def worker() -> None:
        while not cancel.is_set() and not stop:
            spec = next(queue, None)
            if spec is None:
                return
            progress.started += 1
            progress.running += 1
            notify(progress)
            began = time.perf_counter()
            status, reason = "failed", ""
            try:
                result = await arun(spec, on_event=on_event, cancel=cancel)
                status, reason = result.status, result.reason
            except asyncio.CancelledError:
                task = asyncio.current_task()
                status, reason = "interrupted", "cancelled by the user"
                if task is not None and task.cancelling():
                    _record(spec, status, reason, began)
                    raise
            except Exception as exc:  # noqa: BLE001 - isolate the run: record it, go on
                status, reason = "failed", f"{type(exc).__name__}: {exc}"
            _record(spec, status, reason, began)
            check_threshold()
            notify(progress)

    def _record(spec: RunSpec, status: str, reason: str, began: float) -> None:
        progress.running -= 1
        if status == "interrupted":
            progress.interrupted += 1
        elif status in ("completed", "limit_reached", "failed"):
            setattr(progress, status, getattr(progress, status) + 1)
        else:  # pragma: no cover - unknown status: count it as failed
            progress.failed += 1
        outcomes[spec.run_id] = RunOutcome(
            spec.run_id, spec.path, spec.scenario.id, spec.team.id, spec.model, spec.seed, status, reason,
            duration_s=time.perf_counter() - began,
        )

    workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(todo)))]
    try:
        await asyncio.gather(*workers)
    except asyncio.CancelledError:
        for w in workers:
            w.cancel()
        await asyncio.gather(*workers, return_exceptions=True)  # every in-flight run writes `interrupted`
        cancel.set()
        raise
    return stop[0] if stop else None


async def _score_all(
    plan: BatchPlan,
    summary: BatchSummary,
    judge: str | None,
    samples: int,
    concurrency: int,
    cancel: asyncio.Event,
    notify: Callable[[BatchProgress], None],
) -> None:
    from transcripts.scoring import JudgeUnavailable, ScoringError, ascore_transcript, needs_score, record_score, score_transcript_rules
    from transcripts.store import read_transcript

    progress = summary.progress
    pending = []
    for spec in plan.runs:
        if not spec.path.exists():
            continue
        transcript = read_transcript(spec.path)
        if needs_score(transcript, judge):
            pending.append(spec.path)
    progress.to_score = len(pending)
    notify(progress)
    if judge is None:
        for path in pending:
            if cancel.is_set():
                return
            try:
                transcript = read_transcript(path)
                record_score(path, transcript, score_transcript_rules(transcript))
                summary.scored += 1
            except ScoringError as exc:
                summary.score_errors.append(f"{path.name}: {exc}")
            progress.scored += 1
            notify(progress)
            await asyncio.sleep(0)  # let a Ctrl-C through
        return
    queue = iter(pending)
    gave_up: list[str] = []

    async def worker() -> None:
        while not cancel.is_set() and not gave_up:
            path = next(queue, None)
            if path is None:
                return
            try:
                await ascore_transcript(path, judge, samples)
                summary.scored += 1
            except JudgeUnavailable as exc:
                gave_up.append(f"judge {judge} unavailable: {exc}")
            except ScoringError as exc:
                summary.score_errors.append(f"{path.name}: {exc}")
            progress.scored += 1
            notify(progress)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))
    summary.score_errors.extend(gave_up)


def _cache_filename() -> str:
    from agents.cache import CACHE_FILENAME

    return CACHE_FILENAME


def _account(plan: BatchPlan, summary: BatchSummary) -> None:
    """Totals over every transcript of the plan on disk: per run, per team, per member; judge apart."""
    run_total, judge_total = Usage(), Usage()
    by_team: dict[str, dict[str, Any]] = {}
    for spec in plan.runs:
        state = transcript_state(spec.path)
        if not state.exists:
            continue
        team = by_team.setdefault(spec.team.id, {"runs": 0, "usage": Usage(), "judge": Usage(), "by_member": {}})
        team["runs"] += 1
        team["usage"] = team["usage"] + state.usage
        team["judge"] = team["judge"] + state.judge_usage
        for member, usage in state.usage_by_member.items():
            team["by_member"][member] = team["by_member"].get(member, Usage()) + usage
        run_total = run_total + state.usage
        judge_total = judge_total + state.judge_usage
    summary.run_usage, summary.judge_usage = run_total, judge_total
    summary.by_team = {
        team: {
            "runs": data["runs"],
            "usage": _usage_json(data["usage"]),
            "judge": _usage_json(data["judge"]),
            "cost_per_run_usd": round(data["usage"].cost_usd / data["runs"], 6) if data["runs"] else 0.0,
            "by_member": {m: _usage_json(u) for m, u in sorted(data["by_member"].items())},
        }
        for team, data in by_team.items()
    }


def write_batch_manifest(summary: BatchSummary, command: Sequence[str] | None, concurrency: int | None) -> Path:
    """Write `<out>/batch.json` atomically, keeping a short history of earlier invocations."""
    path = summary.plan.out_dir / MANIFEST_FILENAME
    data = summary.manifest(command, concurrency)
    history: list[dict[str, Any]] = []
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        history = list(previous.get("history") or [])
        history.append({k: previous.get(k) for k in ("written", "command", "counts", "wall_s", "interrupted", "stopped", "this_invocation")})
    except (OSError, ValueError, AttributeError):
        pass
    data["history"] = history[-50:]
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
