"""What every remote executor shares: the worker's side (run many deliberations on one event loop,
hand each transcript back as lines), the driver's side (a pool of slots pulling from one queue, a
worker that dies has its runs put back), and the limiter with tickets that lets a driver free the
slots a dead worker held.

The driver owns the output folder: workers never write transcripts. A finished run comes back as its
transcript's lines (the exact JSON lines `TranscriptWriter` would have written) and the driver writes
the file in one step (`<run>.jsonl.tmp`, then an atomic rename), so a transcript on disk is whole or
absent, whatever dies when.
"""

from __future__ import annotations

import asyncio
import math
import os
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.limits import Limit, Limiter, estimate_tokens, keys_for  # noqa: F401 - estimate_tokens re-exported
from transcripts.events import Event, RunEnded
from transcripts.locks import TranscriptBusy, claim_transcript

__all__ = ["WorkerCore", "Tables", "tables_for", "Driver", "WorkerLost", "TicketedLimiter"]


# -- what a worker needs to rebuild a RunSpec -------------------------------------------------------


@dataclass
class Tables:
    """Scenarios and teams of the batch, shipped to each worker once (runs then name them by key)."""

    scenarios: dict[str, tuple[Any, dict[str, Any], str]] = field(default_factory=dict)  # key -> (Scenario, json, hash)
    teams: dict[str, tuple[Any, dict[str, Any], str]] = field(default_factory=dict)  # key -> (Team, snapshot, hash)


def tables_for(todo: list[Any]) -> tuple[Tables, list[tuple[int, str, str, str | None, int, str, str]]]:
    """(tables, items): one item per run, (index, scenario key, team key, model, seed, batch, out_dir)."""
    tables = Tables()
    items = []
    skeys: dict[int, str] = {}
    tkeys: dict[int, str] = {}
    for i, spec in enumerate(todo):
        sk = skeys.get(id(spec.scenario))
        if sk is None:
            sk = skeys[id(spec.scenario)] = f"s{len(skeys)}"
            tables.scenarios[sk] = (spec.scenario, spec.scenario_json, spec.scenario_hash)
        tk = tkeys.get(id(spec.team))
        if tk is None:
            tk = tkeys[id(spec.team)] = f"t{len(tkeys)}"
            tables.teams[tk] = (spec.team, spec.team_snapshot, spec.team_hash)
        items.append((i, sk, tk, spec.model, spec.seed, spec.batch, str(spec.out_dir) if spec.out_dir else "", spec.disclosure))
    return tables, items


class _Lines:
    """A transcript writer that keeps the lines instead of writing a file."""

    def __init__(self) -> None:
        self.lines: list[str] = []

    def write(self, event: Event) -> Event:
        event.seq = len(self.lines)
        self.lines.append(event.model_dump_json(exclude_none=False))
        return event

    def close(self) -> None:
        pass

    def discard(self) -> None:
        self.lines.clear()


class WorkerCore:
    """Runs deliberations on the worker's event loop; `run(item)` returns the transcript as lines."""

    def __init__(self, tables: Tables) -> None:
        self.tables = tables
        self.cancel = asyncio.Event()

    def spec(self, item: tuple[Any, ...]) -> Any:
        from agents.runner import RunSpec

        _, sk, tk, model, seed, batch, out_dir, disclosure = item
        scenario, scenario_json, scenario_hash = self.tables.scenarios[sk]
        team, snapshot, team_hash = self.tables.teams[tk]
        spec = RunSpec(scenario=scenario, team=team, team_snapshot=snapshot, model=model, seed=seed, batch=batch,
                       out_dir=Path(out_dir) if out_dir else None, disclosure=disclosure)
        spec.__dict__["scenario_json"], spec.__dict__["scenario_hash"], spec.__dict__["team_hash"] = scenario_json, scenario_hash, team_hash
        return spec

    async def run(self, item: tuple[Any, ...]) -> dict[str, Any]:
        from agents.runner import arun

        spec = self.spec(item)
        lines = _Lines()
        spent = [0, 0, 0.0]

        def on_event(event: Event) -> None:
            usage = getattr(event, "usage", None)
            if usage is not None and not isinstance(event, RunEnded):
                spent[0] += usage.prompt_tokens
                spent[1] += usage.completion_tokens
                spent[2] += usage.cost_usd

        began = time.perf_counter()
        status, reason = "failed", ""
        try:
            result = await arun(spec, on_event=on_event, cancel=self.cancel, writer=lines)
            status, reason = result.status, result.reason
        except asyncio.CancelledError:
            status, reason = "interrupted", "cancelled by the user"
        except Exception as exc:  # noqa: BLE001 - isolate the run
            status, reason = "failed", f"{type(exc).__name__}: {exc}"
        return {
            "index": item[0], "run_id": spec.run_id, "status": status, "reason": reason, "lines": lines.lines,
            "usage": spent, "duration_s": time.perf_counter() - began, "pid": os.getpid(),
        }


# -- the limiter a driver (or a Ray actor) holds for many workers -------------------------------------


class TicketedLimiter:
    """A `Limiter` whose grants are tickets held by a named worker, so that the slots of a worker
    that died can be given back (`forget_worker`), and a grant that arrives after its caller gave up
    is returned at once."""

    def __init__(self, limits: dict[str, Limit]) -> None:
        self.limiter = Limiter(limits)
        self.held: dict[str, tuple[str, str, int]] = {}  # ticket -> (worker, model, estimate)
        self.dropped: set[str] = set()
        self.dead: set[str] = set()

    async def acquire(self, worker: str, ticket: str, model: str, tokens: int) -> bool:
        await self.limiter.acquire(model, tokens)
        if worker in self.dead or ticket in self.dropped:
            self.dropped.discard(ticket)
            await self.limiter.release(model, tokens, tokens)
            return False
        self.held[ticket] = (worker, model, tokens)
        return True

    async def release(self, ticket: str, used: int) -> None:
        held = self.held.pop(ticket, None)
        if held is None:
            self.dropped.add(ticket)  # released before it was granted: give it back on arrival
            return
        await self.limiter.release(held[1], held[2], used)

    async def throttled(self, model: str, delay: float) -> None:
        await self.limiter.throttled(model, delay)

    async def forget_worker(self, worker: str) -> int:
        self.dead.add(worker)
        mine = [t for t, (w, _, _) in self.held.items() if w == worker]
        for ticket in mine:
            _, model, tokens = self.held.pop(ticket)
            await self.limiter.release(model, tokens, tokens)
        return len(mine)

    def stats(self) -> dict[str, Any]:
        return self.limiter.stats()


class LimiterClient:
    """The worker's side of a `TicketedLimiter` reached through `send` (an async function taking the
    method name and its arguments); `applies` answers locally."""

    def __init__(self, limits: dict[str, Limit], worker: str, call: Callable[..., Any], post: Callable[..., Any]) -> None:
        self.limits = limits
        self.worker = worker
        self._call = call  # awaited: returns the method's result
        self._post = post  # fire and forget
        self._n = 0
        self._tickets: dict[int, list[str]] = {}

    def applies(self, model: str) -> bool:
        return bool(keys_for(model, self.limits))

    async def acquire(self, model: str, tokens: int = 0) -> None:
        self._n += 1
        ticket = f"{self.worker}:{self._n}"
        task = asyncio.current_task()
        try:
            granted = await self._call("acquire", self.worker, ticket, model, tokens)
        except BaseException:
            self._post("release", ticket, 0)
            raise
        if not granted:  # pragma: no cover - only for a worker the driver already gave up on
            raise asyncio.CancelledError
        self._tickets.setdefault(id(task), []).append(ticket)

    async def release(self, model: str, estimated: int = 0, used: int = 0) -> None:
        stack = self._tickets.get(id(asyncio.current_task()))
        if not stack:
            return
        ticket = stack.pop()
        if not stack:
            self._tickets.pop(id(asyncio.current_task()), None)
        self._post("release", ticket, used)

    async def throttled(self, model: str, delay: float) -> None:
        self._post("throttled", model, delay)


# -- the driver's side ---------------------------------------------------------------------------------


class WorkerLost(Exception):
    """The worker running a run died (process killed, node lost); the run is put back in the queue."""

    def __init__(self, message: str, generation: int = 0) -> None:
        super().__init__(message)
        self.generation = generation


class Driver:
    """Hands runs to the slots of a pool of workers and records what comes back (see module docstring).

    `pool` provides: `slots` (a list of worker indexes, one per concurrent run), `async submit(w, item)`
    returning the run's dict or raising WorkerLost, `async replace(w, generation)` (a new worker in place
    of a dead one, once per death), and `async cancel_all()`.
    """

    def __init__(self, todo: list[Any], items: list[tuple[Any, ...]], progress: Any, outcomes: dict[str, Any],
                 notify: Callable[[Any], None], cancel: asyncio.Event, max_failure_rate: float | None, min_runs: int) -> None:
        self.todo, self.items = todo, items
        self.progress, self.outcomes, self.notify, self.cancel = progress, outcomes, notify, cancel
        self.max_failure_rate, self.min_runs = max_failure_rate, min_runs
        self.queue: deque[tuple[Any, ...]] = deque(items)
        self.stop: list[str] = []
        self.redone: list[dict[str, Any]] = []
        self.lost_workers = 0

    def _check_threshold(self) -> None:
        p = self.progress
        if self.max_failure_rate is None or self.stop or p.finished < max(1, self.min_runs):
            return
        rate = p.failed / p.finished
        if rate > self.max_failure_rate:
            self.stop.append(
                f"failure threshold: {p.failed} of {p.finished} finished runs failed "
                f"({rate:.0%} > {self.max_failure_rate:.0%}); no new runs were started"
            )

    def _write(self, spec: Any, lines: list[str]) -> None:
        # The driver writes under the transcript's lock, like every other writer (transcripts/locks.py):
        # a run id another process is writing raises TranscriptBusy instead of being replaced.
        lock = claim_transcript(spec.path)
        try:
            assert lock.fh is not None
            lock.fh.write(("\n".join(lines) + ("\n" if lines else "")).encode("utf-8"))
            lock.fh.flush()
        finally:
            lock.release()

    def _record(self, spec: Any, out: dict[str, Any]) -> None:
        from agents.batch import RunOutcome

        p = self.progress
        p.running -= 1
        status = out["status"]
        if status == "interrupted":
            p.interrupted += 1
        elif status in ("completed", "limit_reached", "failed"):
            setattr(p, status, getattr(p, status) + 1)
        else:  # pragma: no cover
            p.failed += 1
        prompt, completion, cost = out["usage"]
        p.prompt_tokens += prompt
        p.completion_tokens += completion
        p.cost_usd += cost
        self.outcomes[spec.run_id] = RunOutcome(
            spec.run_id, spec.path, spec.scenario.id, spec.team.id, spec.model, spec.seed, status, out["reason"],
            duration_s=out["duration_s"],
        )

    async def _slot(self, pool: Any, w: int) -> None:
        p = self.progress
        while not self.cancel.is_set() and not self.stop and self.queue:
            item = self.queue.popleft()
            spec = self.todo[item[0]]
            p.started += 1
            p.running += 1
            self.notify(p)
            try:
                out = await pool.submit(w, item)
            except WorkerLost as lost:
                p.started -= 1
                p.running -= 1
                if self.cancel.is_set():  # stopping anyway (Ctrl-C can take workers down too): not started
                    return
                self.queue.appendleft(item)  # redo it (on whichever slot is free first)
                self.redone.append({"run_id": spec.run_id, "reason": str(lost)})
                await pool.replace(w, lost.generation)
                continue
            if out["lines"]:
                try:
                    self._write(spec, out["lines"])
                except TranscriptBusy as exc:  # another process writes this run id: leave it, redo it next time
                    out = {**out, "status": "interrupted", "reason": str(exc)}
            self._record(spec, out)
            self._check_threshold()
            self.notify(p)

    async def run(self, pool: Any) -> str | None:
        async def watch_cancel() -> None:
            await self.cancel.wait()
            await pool.cancel_all()

        watcher = asyncio.ensure_future(watch_cancel())
        slots = [asyncio.ensure_future(self._slot(pool, w)) for w in pool.slots[: max(1, len(self.items))]]
        try:
            await asyncio.gather(*slots)
        except asyncio.CancelledError:
            self.cancel.set()
            await pool.cancel_all()
            await asyncio.gather(*slots, return_exceptions=True)
            raise
        finally:
            watcher.cancel()
        return self.stop[0] if self.stop else None


def split(concurrency: int, workers: int) -> list[int]:
    """Slots per worker: `concurrency` shared as evenly as possible, at least one each."""
    base = max(1, concurrency // workers)
    extra = max(0, concurrency - base * workers)
    return [base + (1 if i < extra else 0) for i in range(workers)]


def per_worker(concurrency: int, workers: int) -> int:
    return max(1, math.ceil(concurrency / workers))
