"""Executors: where and how the runs of a batch execute.

An executor does two things: `map` schedules the runs (at most `concurrency` in flight, stopping
when `keep_going()` turns false), and `run` executes one run and returns its (status, reason). The
default `AsyncioExecutor` runs everything on this event loop; a multi-process or Ray executor would
implement the same two methods (each run writes its own transcript, so results are read from disk).
"""

from __future__ import annotations

import asyncio
from collections.abc import Awaitable, Callable, Sequence
from typing import Protocol

from agents.runner import RunSpec, arun
from transcripts.events import Event

__all__ = ["AsyncioExecutor", "Executor"]


class Executor(Protocol):
    async def map(
        self, todo: Sequence[RunSpec], concurrency: int, handle: Callable[[RunSpec], Awaitable[None]], keep_going: Callable[[], bool]
    ) -> None: ...

    async def run(self, spec: RunSpec, *, on_event: Callable[[Event], None], cancel: asyncio.Event) -> tuple[str, str]: ...


class AsyncioExecutor:
    """Runs on the current event loop: a fixed pool of workers pulling from one iterator, so memory
    does not grow with the batch. Cancelling `map` cancels every in-flight run (each writes `interrupted`)."""

    async def map(
        self, todo: Sequence[RunSpec], concurrency: int, handle: Callable[[RunSpec], Awaitable[None]], keep_going: Callable[[], bool]
    ) -> None:
        queue = iter(todo)

        async def worker() -> None:
            while keep_going():
                spec = next(queue, None)
                if spec is None:
                    return
                await handle(spec)

        workers = [asyncio.ensure_future(worker()) for _ in range(min(concurrency, len(todo)))]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            for w in workers:
                w.cancel()
            await asyncio.gather(*workers, return_exceptions=True)  # every in-flight run writes `interrupted`
            raise

    async def run(self, spec: RunSpec, *, on_event: Callable[[Event], None], cancel: asyncio.Event) -> tuple[str, str]:
        result = await arun(spec, on_event=on_event, cancel=cancel)
        return result.status, result.reason
