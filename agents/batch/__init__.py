"""Batches: scenarios x teams x models x repeats, run concurrently on one event loop, resumable by run id.

    plan = plan_batch(["scenarios/library"], ["default", "parallel"], models=["scripted/mixed"], repeats=2)
    summary = asyncio.run(run_batch(plan, BatchOptions(concurrency=8)))   # or run_batch(plan, concurrency=8)
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

The package: `plan` (what to run), `state` (what is on disk, progress, summary, manifest, folder
lock), `execution` (`run_batch` and `BatchOptions`, scoring after the runs), `executors` (where runs
execute: `AsyncioExecutor` by default; the seam for a multi-process or Ray executor).
"""

from __future__ import annotations

from agents.batch.execution import MIN_RUNS_FOR_RATE, BatchOptions, run_batch
from agents.batch.executors import AsyncioExecutor, Executor
from agents.batch.plan import BatchError, BatchPlan, default_batch_name, plan_batch
from agents.batch.state import (
    LOCK_FILENAME,
    MANIFEST_FILENAME,
    BatchProgress,
    BatchSummary,
    RunOutcome,
    TranscriptState,
    transcript_state,
    write_batch_manifest,
)

__all__ = [
    "AsyncioExecutor",
    "BatchError",
    "BatchOptions",
    "BatchPlan",
    "BatchProgress",
    "BatchSummary",
    "Executor",
    "LOCK_FILENAME",
    "MANIFEST_FILENAME",
    "MIN_RUNS_FOR_RATE",
    "RunOutcome",
    "TranscriptState",
    "default_batch_name",
    "plan_batch",
    "run_batch",
    "transcript_state",
    "write_batch_manifest",
]
