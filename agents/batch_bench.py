"""Batch benchmarks (`grandrounds bench --only batch`): concurrency efficiency and flat memory.

1. **Concurrency**: 200 runs of the default team with the scripted model at 100 ms per call, 50 at a
   time. The lower bound is ceil(runs / concurrency) x calls per run x latency (every run's calls are
   sequential); the figure is wall / lower bound (target <= 1.10, goal 1.05).
2. **Speed-up over one at a time**: running all 200 runs serially would take about three minutes, so
   a documented subset (20 runs, the first 20 of the same plan) runs at concurrency 1 and its wall time
   is scaled by 200 / 20; speed-up = scaled serial time / concurrent wall time (target >= 10x).
3. **Memory**: 1,000 runs (scripted, zero latency, concurrency 50, no scoring); resident memory (RSS)
   is sampled as runs finish; the RSS after 100 runs and after 1,000 runs should be about the same.

4. **Scale**: 2,000 runs at concurrency 500 with 100 ms per call, on the local executor (one event
   loop), with `--workers 2` (two local processes) and on Ray's local cluster (2 actors; skipped without
   the [ray] extra), each beside its own lower bound. `wall_over_bound` includes starting the workers
   (and, for Ray, the cluster), as a user's batch does; `startup_s` is that part (until the first run
   is handed out) and `after_startup_over_bound` the rest. At 500 in flight the engine's CPU, not the
   model's latency, sets the pace on one core (2,000 runs x about 4 ms of CPU each).

Transcripts go to a temporary folder beside the runs home (where a user's batch writes; see
`agents.bench.transcripts_folder`) that is deleted afterwards. Scoring is off in all three, so that
the figures measure the runs; scoring has its own benchmark (transcripts.scoring.bench).
"""

from __future__ import annotations

import asyncio
import math
import os
import resource
import time
from pathlib import Path
from typing import Any

from agents.batch import BatchPlan, plan_batch, run_batch
from agents.bench import transcripts_folder
from transcripts.store import read_transcript

LATENCY_S = 0.1
RUNS = 200
CONCURRENCY = 50
SERIAL_SUBSET = 20
MEMORY_RUNS = 1000
SCALE_RUNS = 2000
SCALE_CONCURRENCY = 500
TEAM = "default"


def _rss_mb() -> float:
    """Current resident set size (not the peak), from /proc when there is one."""
    try:
        with open("/proc/self/statm") as fh:
            pages = int(fh.read().split()[1])
        return pages * os.sysconf("SC_PAGE_SIZE") / 2**20
    except (OSError, ValueError, IndexError):
        return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0


def _plan(out: Path, runs: int, model: str) -> BatchPlan:
    repeats = math.ceil(runs / 30)  # the library holds 30 cases
    plan = plan_batch(["scenarios/library"] if Path("scenarios/library").is_dir() else [_library()], [TEAM],
                      models=[model], repeats=repeats, out_dir=out)
    plan.runs = plan.runs[:runs]
    return plan


def _library() -> str:
    from scenarios.loader import library_dir

    return str(library_dir())


def _calls_per_run(plan: BatchPlan) -> int:
    """Model calls in one run, read from a transcript: turns, chair decisions and the resolution."""
    t = read_transcript(plan.runs[0].path)
    attempts = sum(getattr(e, "attempts", 1) for e in t.events if e.type in ("turn", "resolution"))
    return attempts + sum(1 for e in t.events if e.type == "chair_decision")


async def _timed(plan: BatchPlan, concurrency: int, **kw: Any) -> float:
    start = time.perf_counter()
    await run_batch(plan, concurrency, score=False, write_manifest=False, **kw)
    return time.perf_counter() - start


def bench_batch() -> dict[str, Any]:
    model = f"scripted/preferred?latency={LATENCY_S}"
    figures: dict[str, Any] = {}
    with transcripts_folder("batch") as root:  # beside the runs home, where a user's batch writes
        figures["transcripts_written_under"] = str(root.parent)
        # 0. warm up (imports, the compiled graph, reply schemas of every case): one-time costs
        # that are not part of how a batch scales, so they stay out of the timed figures.
        asyncio.run(_timed(_plan(root / "warmup", 60, "scripted/preferred"), CONCURRENCY))
        # 1. concurrency 50
        plan = _plan(root / "concurrent", RUNS, model)
        wall = asyncio.run(_timed(plan, CONCURRENCY))
        calls = _calls_per_run(plan)
        bound = math.ceil(RUNS / CONCURRENCY) * calls * LATENCY_S
        figures["runs"] = RUNS
        figures["concurrency"] = CONCURRENCY
        figures["calls_per_run"] = calls
        figures["latency_s_per_call"] = LATENCY_S
        figures["wall_s"] = round(wall, 2)
        figures["lower_bound_s"] = round(bound, 2)
        figures["wall_over_bound"] = round(wall / bound, 3)
        figures["wall_over_bound_target"] = "<= 1.10 (goal 1.05)"
        # 2. one at a time, on a subset of the same plan, scaled
        serial_plan = _plan(root / "serial", SERIAL_SUBSET, model)
        serial = asyncio.run(_timed(serial_plan, 1))
        scaled = serial * RUNS / SERIAL_SUBSET
        figures["serial_subset_runs"] = SERIAL_SUBSET
        figures["serial_subset_wall_s"] = round(serial, 2)
        figures["serial_wall_s_scaled_to_200"] = round(scaled, 1)
        figures["speedup_vs_serial"] = round(scaled / wall, 1)
        figures["speedup_target"] = ">= 10x"
        # 3. memory over 1,000 runs
        mem_plan = _plan(root / "memory", MEMORY_RUNS, "scripted/preferred")
        samples: dict[int, float] = {}

        def sample(progress: Any) -> None:
            done = progress.finished
            if done in (100, 250, 500, 750, MEMORY_RUNS) and done not in samples:
                samples[done] = _rss_mb()

        rss_start = _rss_mb()
        mem_wall = asyncio.run(_timed(mem_plan, CONCURRENCY, on_progress=sample))
        figures["memory_runs"] = MEMORY_RUNS
        figures["memory_wall_s"] = round(mem_wall, 1)
        figures["memory_runs_per_s"] = round(MEMORY_RUNS / mem_wall, 1)
        figures["rss_mb_before"] = round(rss_start, 1)
        figures["rss_mb_by_runs"] = {k: round(v, 1) for k, v in sorted(samples.items())}
        if 100 in samples and MEMORY_RUNS in samples:
            figures["rss_growth_mb_100_to_1000"] = round(samples[MEMORY_RUNS] - samples[100], 1)
        figures["peak_rss_mb"] = round(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024.0, 1)
        figures["target"] = "wall/bound <= 1.10 at 200 runs x 50; speed-up >= 10x; RSS flat from 100 to 1,000 runs"
        # 4. 2,000 runs x 500 in flight, three ways
        figures["scale"] = _bench_scale(root, model)
    return figures


def _bench_scale(root: Path, model: str) -> dict[str, Any]:
    from agents.executors import ray_available

    rows: dict[str, Any] = {}
    ways: list[tuple[str, dict[str, Any]]] = [("local", {}), ("workers_2", {"workers": 2})]
    if ray_available():
        ways.append(("ray_local_cluster_2", {"executor": "ray", "workers": 2}))
    for name, options in ways:
        plan = _plan(root / f"scale-{name}", SCALE_RUNS, model)
        first_run: list[float] = []

        def note_first_run(progress: Any) -> None:
            if progress.started and not first_run:
                first_run.append(time.perf_counter())

        start = time.perf_counter()
        summary = asyncio.run(run_batch(plan, SCALE_CONCURRENCY, score=False, write_manifest=False, on_progress=note_first_run, **options))
        wall = time.perf_counter() - start
        calls = _calls_per_run(plan)
        bound = math.ceil(SCALE_RUNS / SCALE_CONCURRENCY) * calls * LATENCY_S
        startup = (first_run[0] - start) if first_run else 0.0
        rows[name] = {
            "runs": SCALE_RUNS, "concurrency": SCALE_CONCURRENCY, "completed": summary.counts["completed"],
            "wall_s": round(wall, 2), "lower_bound_s": round(bound, 2), "wall_over_bound": round(wall / bound, 3),
            # starting worker processes or a Ray cluster (and its actors), before the first run is handed out
            "startup_s": round(startup, 2), "after_startup_over_bound": round((wall - startup) / bound, 3),
        }
    return rows


if __name__ == "__main__":  # pragma: no cover
    import json

    print(json.dumps(bench_batch(), indent=2))
