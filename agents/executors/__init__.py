"""Where the runs of a batch execute when not on the batch's own event loop.

`agents.batch.run_batch` plans, resumes, caches, scores and accounts; with `workers > 1` or
`executor="ray"` it hands the runs still to do to `run_elsewhere`, which spreads them over worker
processes (agents/executors/processes.py) or Ray actors (agents/executors/ray_executor.py). Either
way the workers stream each finished transcript back and this process writes it (core.py).
"""

from __future__ import annotations

import asyncio
import importlib.util
from pathlib import Path
from typing import Any

__all__ = ["ray_available", "run_elsewhere"]


def ray_available() -> bool:
    return importlib.util.find_spec("ray") is not None


async def run_elsewhere(
    todo: list[Any], concurrency: int, progress: Any, outcomes: dict[str, Any], notify: Any, cancel: asyncio.Event,
    max_failure_rate: float | None, min_runs: int, *, executor: str, workers: int | None, address: str | None,
    limits: dict[str, Any], cache_path: Path | None,
) -> tuple[str | None, dict[str, Any]]:
    """Run `todo`; returns (why launching stopped early or None, what to record under `executor`)."""
    if executor == "ray":
        from agents.batch import BatchError

        if not ray_available():
            raise BatchError("--executor ray needs Ray: pip install 'grandrounds[ray]'")
        from agents.executors.ray_executor import run_on_ray

        return await run_on_ray(todo, concurrency, progress, outcomes, notify, cancel, max_failure_rate, min_runs,
                                workers=workers, address=address, limits=limits, cache_path=cache_path)
    from agents.executors.processes import run_in_processes

    return await run_in_processes(todo, concurrency, progress, outcomes, notify, cancel, max_failure_rate, min_runs,
                                  workers=workers or 1, limits=limits, cache_path=cache_path)
