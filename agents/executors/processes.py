"""`grandrounds batch --workers N`: runs spread over N local worker processes, each its own event loop.

The driver (the `grandrounds batch` process) starts `python -m agents.executors.processes` N times
and talks to each over its stdin/stdout (length-prefixed pickles; the worker's own prints go to
stderr). Workers run deliberations and send each finished transcript back as lines; the driver writes
them, exactly as with Ray (agents/executors/core.py). `--limit` is held by the driver: a worker asks
it before each model call. `--cache`: every worker opens the SQLite cache file itself (WAL mode lets
processes of one machine share it). A worker that dies has its in-flight runs redone by a new one.
"""

from __future__ import annotations

import asyncio
import os
import pickle
import struct
import sys
from pathlib import Path
from typing import Any

from agents.executors.core import Driver, LimiterClient, TicketedLimiter, WorkerCore, WorkerLost, split, tables_for
from agents.gc_policy import apply_batch_gc

_HEADER = struct.Struct("!I")
_STREAM_LIMIT = 1 << 30


def _frame(message: Any) -> bytes:
    data = pickle.dumps(message, protocol=pickle.HIGHEST_PROTOCOL)
    return _HEADER.pack(len(data)) + data


async def _read(reader: asyncio.StreamReader) -> Any:
    header = await reader.readexactly(_HEADER.size)
    (size,) = _HEADER.unpack(header)
    return pickle.loads(await reader.readexactly(size))


# -- the driver's side ---------------------------------------------------------------------------------


class _Proc:
    def __init__(self, name: str, proc: asyncio.subprocess.Process, generation: int) -> None:
        self.name, self.proc, self.generation = name, proc, generation
        self.pending: dict[int, asyncio.Future[Any]] = {}
        self.stats: asyncio.Future[Any] | None = None
        self.reader: asyncio.Task[None] | None = None
        self.dead = False

    def send(self, message: Any) -> None:
        if self.dead or self.proc.stdin is None or self.proc.stdin.is_closing():
            raise WorkerLost(f"worker {self.name} is gone", self.generation)
        self.proc.stdin.write(_frame(message))


class ProcessPool:
    def __init__(self, workers: int, concurrency: int, tables: Any, limits: dict[str, Any], cache_path: Path | None) -> None:
        self.per = split(concurrency, workers)
        self.slots = [w for w in range(workers) for _ in range(self.per[w])]
        self.tables_blob = pickle.dumps(tables, protocol=pickle.HIGHEST_PROTOCOL)
        self.limits = limits
        self.limiter = TicketedLimiter(limits) if limits else None
        self.cache_path = str(cache_path) if cache_path else None
        self.procs: list[_Proc] = []
        self.generation = [0] * workers
        self.lock = asyncio.Lock()
        self.lost = 0
        self.tasks: set[asyncio.Task[Any]] = set()

    async def _spawn(self, w: int) -> _Proc:
        name = f"worker-{w}-g{self.generation[w]}"
        proc = await asyncio.create_subprocess_exec(
            sys.executable, "-m", "agents.executors.processes",
            stdin=asyncio.subprocess.PIPE, stdout=asyncio.subprocess.PIPE, limit=_STREAM_LIMIT,
        )
        p = _Proc(name, proc, self.generation[w])
        p.send(("init", self.tables_blob, self.limits, self.cache_path, name))
        ready: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        p.reader = asyncio.ensure_future(self._pump(p, ready))
        await ready
        return p

    async def start(self) -> None:
        self.procs = list(await asyncio.gather(*(self._spawn(w) for w in range(len(self.per)))))

    async def _pump(self, p: _Proc, ready: asyncio.Future[Any]) -> None:
        assert p.proc.stdout is not None
        try:
            while True:
                message = await _read(p.proc.stdout)
                kind = message[0]
                if kind == "result":
                    fut = p.pending.pop(message[1], None)
                    if fut is not None and not fut.done():
                        fut.set_result(message[2])
                elif kind == "call":
                    self._spawn_task(self._answer(p, message[1], message[2], message[3]))
                elif kind == "post":
                    if self.limiter is not None:
                        self._spawn_task(getattr(self.limiter, message[1])(*message[2]))
                elif kind == "ready":
                    ready.set_result(message[1])
                elif kind == "stats" and p.stats is not None and not p.stats.done():
                    p.stats.set_result(message[1])
        except (asyncio.IncompleteReadError, ConnectionError, EOFError, pickle.UnpicklingError, OSError):
            pass
        p.dead = True
        code = await p.proc.wait()
        lost = WorkerLost(f"worker {p.name} (pid {p.proc.pid}) exited with code {code}", p.generation)
        if not ready.done():
            ready.set_exception(lost)
        for fut in p.pending.values():
            if not fut.done():
                fut.set_exception(lost)
        p.pending.clear()
        if p.stats is not None and not p.stats.done():
            p.stats.set_result(None)

    def _spawn_task(self, coro: Any) -> None:
        task = asyncio.ensure_future(coro)
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _answer(self, p: _Proc, req: int, method: str, args: tuple[Any, ...]) -> None:
        assert self.limiter is not None
        value = await getattr(self.limiter, method)(*args)
        try:
            p.send(("reply", req, value))
        except WorkerLost:
            pass

    async def submit(self, w: int, item: tuple[Any, ...]) -> dict[str, Any]:
        p = self.procs[w]
        fut: asyncio.Future[Any] = asyncio.get_running_loop().create_future()
        p.pending[item[0]] = fut
        p.send(("run", item))
        return await fut

    async def replace(self, w: int, generation: int) -> None:
        async with self.lock:
            if self.generation[w] != generation:
                return
            self.lost += 1
            old = self.procs[w]
            if self.limiter is not None:
                await self.limiter.forget_worker(old.name)
            if old.proc.returncode is None:
                old.proc.kill()
            self.generation[w] += 1
            self.procs[w] = await self._spawn(w)

    async def cancel_all(self) -> None:
        for p in self.procs:
            try:
                p.send(("cancel",))
            except WorkerLost:
                pass

    async def cache_stats(self) -> dict[str, Any] | None:
        if self.cache_path is None:
            return None
        totals: dict[str, Any] = {"path": self.cache_path, "hits": 0, "misses": 0, "stored": 0, "error": None}
        for p in self.procs:
            p.stats = asyncio.get_running_loop().create_future()
            try:
                p.send(("stats",))
            except WorkerLost:
                continue
            data = await p.stats
            if data:
                for k in ("hits", "misses", "stored"):
                    totals[k] += data[k]
                totals["error"] = totals["error"] or data["error"]
        return totals

    async def close(self) -> None:
        for p in self.procs:
            try:
                p.send(("exit",))
                if p.proc.stdin is not None:
                    p.proc.stdin.close()
            except (WorkerLost, OSError):
                pass
        for p in self.procs:
            try:
                await asyncio.wait_for(p.proc.wait(), 10)
            except asyncio.TimeoutError:
                p.proc.kill()
                await p.proc.wait()
            if p.reader is not None:
                await asyncio.gather(p.reader, return_exceptions=True)
        for task in list(self.tasks):
            task.cancel()


async def run_in_processes(todo: list[Any], concurrency: int, progress: Any, outcomes: dict[str, Any], notify: Any,
                           cancel: asyncio.Event, max_failure_rate: float | None, min_runs: int, *, workers: int,
                           limits: dict[str, Any], cache_path: Path | None) -> tuple[str | None, dict[str, Any]]:
    from agents.executors.ray_executor import _RedoCapped

    n = max(1, min(workers, max(1, len(todo))))
    tables, items = tables_for(todo)
    pool = ProcessPool(n, concurrency, tables, limits, cache_path)
    driver = _RedoCapped(todo, items, progress, outcomes, notify, cancel, max_failure_rate, min_runs)
    info: dict[str, Any] = {"kind": "processes", "workers": n}
    try:
        await pool.start()
        stop = await driver.run(pool)
        if pool.limiter is not None:
            info["limits"] = pool.limiter.stats()
        cache = await pool.cache_stats()
        if cache is not None:
            info["cache"] = cache
    finally:
        await pool.close()
    info["lost_workers"] = pool.lost
    info["redone"] = driver.redone
    return stop, info


# -- the worker's side ---------------------------------------------------------------------------------


async def _worker_main() -> None:
    loop = asyncio.get_running_loop()
    # The protocol owns the original stdout; anything the worker prints goes to stderr.
    proto_out = os.fdopen(os.dup(1), "wb", buffering=0)
    os.dup2(2, 1)
    reader = asyncio.StreamReader(limit=_STREAM_LIMIT)
    await loop.connect_read_pipe(lambda: asyncio.StreamReaderProtocol(reader), os.fdopen(os.dup(0), "rb", buffering=0))
    transport, protocol = await loop.connect_write_pipe(asyncio.streams.FlowControlMixin, proto_out)
    writer = asyncio.StreamWriter(transport, protocol, reader, loop)

    def send(message: Any) -> None:
        writer.write(_frame(message))

    replies: dict[int, asyncio.Future[Any]] = {}
    counter = [0]

    async def call(method: str, *args: Any) -> Any:
        counter[0] += 1
        fut: asyncio.Future[Any] = loop.create_future()
        replies[counter[0]] = fut
        send(("call", counter[0], method, args))
        return await fut

    def post(method: str, *args: Any) -> None:
        send(("post", method, args))

    core: WorkerCore | None = None
    cache: Any = None
    tasks: set[asyncio.Task[Any]] = set()

    async def run(item: tuple[Any, ...]) -> None:
        assert core is not None
        out = await core.run(item)
        send(("result", item[0], out))
        await writer.drain()

    while True:
        try:
            message = await _read(reader)
        except (asyncio.IncompleteReadError, ConnectionError):
            for task in tasks:  # the driver is gone: nobody can receive these runs any more
                task.cancel()
            break
        kind = message[0]
        if kind == "init":
            _, blob, limits, cache_path, name = message
            core = WorkerCore(pickle.loads(blob))
            apply_batch_gc()  # this process only runs a batch's runs (agents/gc_policy.py)
            if limits:
                from agents.limits import use_limiter

                use_limiter(LimiterClient(limits, name, call, post))
            if cache_path:
                from agents.cache import ResponseCache
                from agents.gateway import use_response_cache

                cache = ResponseCache(Path(cache_path))
                use_response_cache(cache)
            send(("ready", os.getpid()))
        elif kind == "run":
            task = asyncio.ensure_future(run(message[1]))
            tasks.add(task)
            task.add_done_callback(tasks.discard)
        elif kind == "reply":
            fut = replies.pop(message[1], None)
            if fut is not None and not fut.done():
                fut.set_result(message[2])
        elif kind == "cancel" and core is not None:
            core.cancel.set()
        elif kind == "stats":
            stats = None
            if cache is not None:
                stats = {"hits": cache.hits, "misses": cache.misses, "stored": cache.stored, "error": cache.error}
                cache.close()
                cache = None
            send(("stats", stats))
        elif kind == "exit":
            break
    if tasks:
        await asyncio.gather(*tasks, return_exceptions=True)
    await writer.drain()
    if cache is not None:
        cache.close()


if __name__ == "__main__":  # pragma: no cover - the worker process
    import signal

    signal.signal(signal.SIGINT, signal.SIG_IGN)  # Ctrl-C is the driver's: it sends "cancel"
    asyncio.run(_worker_main())
