"""Running a plan: `run_batch(plan, BatchOptions(...))`, then scoring what needs a score."""

from __future__ import annotations

import asyncio
import dataclasses
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from agents.batch.executors import AsyncioExecutor, Executor
from agents.batch.plan import BatchError, BatchPlan
from agents.batch.state import (
    MANIFEST_FILENAME,
    WRITE_FAILURE,
    BatchProgress,
    BatchSummary,
    RunOutcome,
    _account,
    _FolderLock,
    transcript_state,
    write_batch_manifest,
)
from agents.gc_policy import batch_gc
from agents.model_specs import AUTH_FAILURES_TO_STOP, AUTH_REASON
from agents.runner import RunSpec
from transcripts.events import FINISHED_STATUSES, Event, RunEnded, Usage
from transcripts.locks import TranscriptBusy
from transcripts.repair import repair_cut_off
from transcripts.writable import OutputError, OutputWriteError, check_output_dir, describe_os_error

__all__ = ["BatchOptions", "MIN_RUNS_FOR_RATE", "run_batch"]

MIN_RUNS_FOR_RATE = 10


@dataclass
class BatchOptions:
    """How to run a plan (every field has a default; `grandrounds batch` fills them from its flags)."""

    concurrency: int = 4
    on_progress: Callable[[BatchProgress], None] | None = None  # called with the live counters
    cancel: asyncio.Event | None = None  # set it to stop: no new runs, in-flight ones end `interrupted`
    max_failure_rate: float | None = None  # stop launching when more than this share of finished runs failed
    min_runs_for_rate: int = MIN_RUNS_FOR_RATE  # ... once at least this many have finished
    retry_failed: bool = False  # run `failed` transcripts again (they count as finished otherwise)
    cache: bool = False  # serve model replies from `<out>/.response-cache.sqlite`
    score: bool = True  # score the transcripts that need it after the runs
    judge: str | None = None  # judge model for rubric grading (rules only when None)
    judge_samples: int = 1
    command: Sequence[str] | None = None  # recorded in the manifest
    write_manifest: bool = True
    executor: Executor | str | None = None  # an Executor; None or "local" is this event loop; "ray": Ray actors
    limits: dict[str, Any] | None = None  # {key: agents.limits.Limit} from --limit: calls per provider or model
    workers: int | None = None  # > 1: local worker processes; with executor="ray": actors (default the cluster's CPUs)
    ray_address: str | None = None  # join this Ray cluster instead of starting a local one

    @classmethod
    def of(cls, options: BatchOptions | int | None = None, **fields: Any) -> BatchOptions:
        """`options` (or the defaults, or a bare concurrency) with `fields` set on top."""
        if isinstance(options, bool) or not (options is None or isinstance(options, (int, BatchOptions))):
            raise TypeError(f"run_batch options must be BatchOptions or a concurrency, not {type(options).__name__}")
        base = options if isinstance(options, BatchOptions) else cls() if options is None else cls(concurrency=options)
        unknown = sorted(set(fields) - {f.name for f in dataclasses.fields(cls)})
        if unknown:
            raise TypeError(f"run_batch got unknown option(s): {', '.join(unknown)}")
        return dataclasses.replace(base, **fields) if fields else base


async def run_batch(plan: BatchPlan, options: BatchOptions | int | None = None, **fields: Any) -> BatchSummary:
    """Run the plan with at most `options.concurrency` runs in flight; see agents.batch's docstring.

    `options` is a `BatchOptions`; keyword arguments set (or override) its fields, and a bare number
    is the concurrency: `run_batch(plan, 8, judge="scripted/preferred")` still works.
    """
    opts = BatchOptions.of(options, **fields)
    concurrency, max_failure_rate, retry_failed = opts.concurrency, opts.max_failure_rate, opts.retry_failed
    cache, score, judge, command = opts.cache, opts.score, opts.judge, opts.command
    if concurrency < 1:
        raise BatchError("--concurrency must be at least 1")
    if max_failure_rate is not None and not 0.0 <= max_failure_rate <= 1.0:
        raise BatchError("--max-failure-rate must be between 0 and 1")
    if isinstance(opts.executor, str) and opts.executor not in ("local", "ray"):
        raise BatchError(f"--executor {opts.executor!r}: use local or ray")
    if opts.workers is not None and opts.workers < 1:
        raise BatchError("--workers must be at least 1")
    # Worker processes or Ray actors (agents/executors/): they stream each finished transcript back and
    # this process writes it, so everything below (resume, cache, accounting, manifest) is unchanged.
    elsewhere = opts.executor == "ray" or (opts.workers or 1) > 1
    started_at = time.perf_counter()
    out = plan.out_dir
    try:
        check_output_dir(out)  # /proc, /sys, a file in the way, a full disk: one line, before any call
    except OutputError as exc:
        raise BatchError(str(exc)) from None
    cancel = opts.cancel or asyncio.Event()
    progress = BatchProgress(total=len(plan.runs))
    notify = opts.on_progress or (lambda _p: None)
    summary = BatchSummary(plan=plan, progress=progress, outcomes=[])
    with _FolderLock(out), batch_gc():  # fewer, cheaper garbage collections (agents/gc_policy.py)
        outcomes: dict[str, RunOutcome] = {}
        todo: list[RunSpec] = []
        finished = set(FINISHED_STATUSES) - ({"failed"} if retry_failed else set())
        for spec in plan.runs:
            if note := repair_cut_off(spec.path):  # then rescored, or run again when its end was cut off
                summary.repaired.append(note)
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
        remote = elsewhere and bool(todo)  # nothing to run: start no workers
        if elsewhere and not todo:
            summary.executor = {"kind": "ray" if opts.executor == "ray" else "processes", "workers": 0, "note": "nothing to run"}
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
                    todo, concurrency, progress, outcomes, notify, cancel, max_failure_rate, opts.min_runs_for_rate,
                    executor="ray" if opts.executor == "ray" else "local", workers=opts.workers, address=opts.ray_address,
                    limits=opts.limits or {}, cache_path=(out / _cache_filename()) if cache else None,
                )
                summary.cache = summary.executor.pop("cache", None)
                summary.limits = summary.executor.pop("limits", None)
            else:
                if opts.limits:
                    from agents.limits import Limiter, use_limiter

                    limiter = Limiter(opts.limits)
                    limiter_token = use_limiter(limiter)
                stop_reason = await _run_all(todo, opts, progress, outcomes, notify, cancel)
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

        if score and not summary.interrupted and not summary.write_failed:
            progress.phase = "scoring"
            notify(progress)
            await _score_all(plan, summary, judge, opts.judge_samples, concurrency, cancel, notify)
            summary.interrupted = cancel.is_set()
        progress.phase = "done"
        _account(plan, summary)
        summary.wall_s = time.perf_counter() - started_at
        if opts.write_manifest:
            try:
                summary.manifest_path = write_batch_manifest(summary, command, concurrency)
            except OSError as exc:  # the summary is still printed; the transcripts stay resumable
                summary.manifest_error = f"cannot write {out / MANIFEST_FILENAME}: {describe_os_error(exc)}"
        notify(progress)
    return summary


def _cache_filename() -> str:
    from agents.cache import CACHE_FILENAME

    return CACHE_FILENAME


async def _run_all(
    todo: list[RunSpec],
    opts: BatchOptions,
    progress: BatchProgress,
    outcomes: dict[str, RunOutcome],
    notify: Callable[[BatchProgress], None],
    cancel: asyncio.Event,
) -> str | None:
    """Every run of `todo` through the executor, with progress, outcomes and the failure threshold."""
    executor = opts.executor if opts.executor not in (None, "local", "ray") else AsyncioExecutor()
    max_failure_rate, min_runs = opts.max_failure_rate, opts.min_runs_for_rate
    stop: list[str] = []
    auth_failures: list[str] = []

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

    async def handle(spec: RunSpec) -> None:
        progress.started += 1
        progress.running += 1
        notify(progress)
        began = time.perf_counter()
        status, reason = "failed", ""
        try:
            status, reason = await executor.run(spec, on_event=on_event, cancel=cancel)
        except asyncio.CancelledError:
            task = asyncio.current_task()
            status, reason = "interrupted", "cancelled by the user"
            if task is not None and task.cancelling():
                _record(spec, status, reason, began)
                raise
        except TranscriptBusy as exc:  # another process writes this run id: leave it alone, redo it next time
            status, reason = "interrupted", str(exc)
        except OutputWriteError as exc:  # disk full etc.: every further run would fail the same way
            status, reason = "interrupted", str(exc)
            if not stop:
                stop.append(f"{WRITE_FAILURE}: {exc}; no new runs were started")
        except Exception as exc:  # noqa: BLE001 - isolate the run: record it, go on
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
        _record(spec, status, reason, began)
        if status == "failed" and reason.startswith(AUTH_REASON):
            auth_failures.append(reason)
            if len(auth_failures) >= AUTH_FAILURES_TO_STOP and not stop:
                stop.append(f"authentication failed in {len(auth_failures)} runs ({reason}); no new runs were started")
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

    try:
        await executor.map(todo, opts.concurrency, handle, lambda: not cancel.is_set() and not stop)
    except asyncio.CancelledError:
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
    from agents.judging import gateway_complete
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
                await ascore_transcript(path, judge, samples, complete=gateway_complete)
                summary.scored += 1
            except JudgeUnavailable as exc:
                gave_up.append(f"judge {judge} unavailable: {exc}")
            except ScoringError as exc:
                summary.score_errors.append(f"{path.name}: {exc}")
            progress.scored += 1
            notify(progress)

    await asyncio.gather(*(worker() for _ in range(min(concurrency, len(pending)))))
    summary.score_errors.extend(gave_up)
