"""Engine benchmarks: the deliberation loop with the scripted model, and one run on the embedded model.

Figures are printed by `grandrounds bench`; nothing here asserts a time (machines are noisy), but
each figure is printed beside a baseline measured in the same process.
"""

from __future__ import annotations

import asyncio
import os
import resource
import shutil
import tempfile
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agents.runner import RunSpec, arun, run_sync
from agents.team import Team
from scenarios.model import Scenario
from transcripts.store import read_transcript


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


@contextmanager
def one_core() -> Iterator[bool]:
    """Engine throughput is quoted per core: pin to one CPU when the OS allows it, then unpin
    (later sections, such as the embedded model, use every core)."""
    try:
        before = os.sched_getaffinity(0)
        os.sched_setaffinity(0, {min(before)})
    except (AttributeError, OSError):
        yield False
        return
    try:
        yield True
    finally:
        os.sched_setaffinity(0, before)


async def _raw_calls(scenario: Scenario, n: int) -> float:
    """Baseline: the same number of scripted model calls, without graph or transcript."""
    from agents.gateway import ModelCall, acomplete
    from agents.schemas import reply_schema

    schema = reply_schema("turn", scenario)
    context = {"scenario": scenario.model_dump(mode="json"), "member": "diagnostician", "round": 1, "members": ["diagnostician"], "revealed": []}
    start = time.perf_counter()
    for i in range(n):
        await acomplete(ModelCall(model="scripted/preferred", messages=[{"role": "user", "content": str(i)}], kind="turn", schema=schema, seed=i, context=context))
    return n / (time.perf_counter() - start)


def bench_engine(scenario: Scenario, team: Team, snapshot: dict[str, Any], runs: int = 40) -> dict[str, Any]:
    with one_core() as pinned:
        return _bench_engine(scenario, team, snapshot, runs, pinned)


def _bench_engine(scenario: Scenario, team: Team, snapshot: dict[str, Any], runs: int, pinned: bool) -> dict[str, Any]:

    async def go(out: Path) -> tuple[int, float]:
        turns = 0
        start = time.perf_counter()
        for seed in range(runs):
            spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model="scripted/preferred", seed=seed, out_dir=out)
            result = await arun(spec)
            turns += result.turns
        return turns, time.perf_counter() - start

    with tempfile.TemporaryDirectory() as tmp:
        turns, elapsed = asyncio.run(go(Path(tmp)))
    raw_rate = asyncio.run(_raw_calls(scenario, max(turns, 50)))
    return {
        "runs": runs,
        "turns": turns,
        "seconds": round(elapsed, 3),
        "turns_per_s": round(turns / elapsed, 1),
        "raw_scripted_calls_per_s": round(raw_rate, 1),
        "pinned_to_one_core": pinned,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def bench_embedded(scenario: Scenario, team: Team, snapshot: dict[str, Any], out_dir: Path | None = None) -> dict[str, Any]:
    """One default deliberation on the embedded model: wall time and first-try validity."""
    with tempfile.TemporaryDirectory() as tmp:
        target = out_dir or Path(tmp)
        spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model="local/smollm2", seed=0, out_dir=target)
        start = time.perf_counter()
        result = run_sync(spec)
        elapsed = time.perf_counter() - start
        transcript = read_transcript(result.path)
    calls = [*transcript.turns]
    if transcript.resolution is not None:
        calls.append(transcript.resolution)
    first_try = sum(1 for c in calls if c.ok and c.attempts == 1)
    tokens = result.usage.completion_tokens
    return {
        "scenario": scenario.id,
        "status": result.status,
        "seconds": round(elapsed, 1),
        "turns": result.turns,
        "structured_replies": len(calls),
        "valid_first_try_share": round(first_try / len(calls), 3) if calls else 0.0,
        "completion_tokens": tokens,
        "completion_tokens_per_s": round(tokens / elapsed, 1) if elapsed else 0.0,
        "peak_rss_mb": round(peak_rss_mb(), 1),
    }


def scripted_bench_transcript(path: Path, scenario: Scenario) -> str | None:
    """A real `scripted/preferred` run of the default team, written to `path`; None if it cannot run."""
    try:
        from agents.specs import run_spec

        spec = run_spec(scenario, "default", model="scripted/preferred", seed=0, batch="bench", out_dir=path.parent / "run")
        result = run_sync(spec)
    except Exception:  # noqa: BLE001 - the caller synthesises one instead
        return None
    if result.status != "completed":
        return None
    shutil.move(str(result.path), path)
    return f"scripted/preferred run of {scenario.id}"
