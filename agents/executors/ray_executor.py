"""`grandrounds batch --executor ray [--ray-address ADDR] [--workers N]`: runs in Ray actors.

- Each worker is an async actor (`BatchWorker`, one CPU) running many deliberations on its own event
  loop; the driver gives it runs one at a time per slot (`concurrency` slots shared among workers).
- A finished run comes back as its transcript's lines, and the driver writes the file: the workers
  need no filesystem shared with the driver (see docs/BATCHES.md for why not fsspec).
- `--limit` is held by one named async actor (`LimiterActor`, no CPU) that every worker asks before
  each model call, so the limit holds across workers and nodes; a dead worker's slots are given back.
- A worker that dies (process killed, node lost) has its in-flight runs put back in the queue and
  done by its replacement; the manifest's `executor.redone` lists them. Nothing is written for a run
  until it is finished, so nothing is duplicated.
- `--cache`: workers on the driver's node open the cache file itself (SQLite, WAL); workers on other
  nodes go through a `CacheActor` pinned to the driver's node.
- With no address a local cluster is started (and stopped) for the batch, with `--workers` CPUs
  (default: this machine's). With one, the batch joins that cluster: every node needs grandrounds
  installed (and provider keys in its environment); `--workers` defaults to the cluster's CPUs.
"""

from __future__ import annotations

import asyncio
import logging
import os
import uuid
from pathlib import Path
from typing import Any

from agents.executors.core import Driver, LimiterClient, TicketedLimiter, WorkerCore, WorkerLost, split, tables_for

NAMESPACE = "grandrounds"
MAX_REDO = 3

_CLASSES: dict[str, Any] = {}


def _classes(ray: Any) -> dict[str, Any]:
    if _CLASSES:
        return _CLASSES

    @ray.remote(num_cpus=0, max_concurrency=100_000)
    class LimiterActor:
        def __init__(self, limits: dict[str, Any]) -> None:
            self.inner = TicketedLimiter(limits)

        async def acquire(self, worker: str, ticket: str, model: str, tokens: int) -> bool:
            return await self.inner.acquire(worker, ticket, model, tokens)

        async def release(self, ticket: str, used: int) -> None:
            await self.inner.release(ticket, used)

        async def throttled(self, model: str, delay: float) -> None:
            await self.inner.throttled(model, delay)

        async def forget_worker(self, worker: str) -> int:
            return await self.inner.forget_worker(worker)

        async def stats(self) -> dict[str, Any]:
            return self.inner.stats()

    @ray.remote(num_cpus=0, max_concurrency=64)
    class CacheActor:
        def __init__(self, path: str) -> None:
            from agents.cache import ResponseCache

            self.cache = ResponseCache(Path(path))

        def get(self, key: str) -> Any:
            return self.cache.get(key)

        def put(self, key: str, reply: Any) -> None:
            self.cache.put(key, reply)

        def stats(self) -> dict[str, Any]:
            c = self.cache
            return {"path": str(c.path), "hits": c.hits, "misses": c.misses, "stored": c.stored, "error": c.error}

        def close(self) -> None:
            self.cache.close()

    @ray.remote(num_cpus=1)
    class BatchWorker:
        def __init__(self, name: str, tables: Any, limits: dict[str, Any], limiter: Any, cache_path: str | None,
                     cache_node: str | None, cache_actor: Any) -> None:
            import ray as _ray

            from agents.gc_policy import apply_batch_gc

            logging.getLogger("LiteLLM").setLevel(logging.ERROR)
            self.name = name
            self.core = WorkerCore(tables)
            apply_batch_gc()  # this actor only runs a batch's runs (agents/gc_policy.py)
            self.client = None
            if limiter is not None:
                async def call(method: str, *args: Any) -> Any:
                    return await getattr(limiter, method).remote(*args)

                def post(method: str, *args: Any) -> None:
                    getattr(limiter, method).remote(*args)

                self.client = LimiterClient(limits, name, call, post)
            self.cache: Any = None
            if cache_path:
                if cache_node == _ray.get_runtime_context().get_node_id():
                    from agents.cache import ResponseCache

                    self.cache = ResponseCache(Path(cache_path))
                else:
                    self.cache = _RemoteCache(cache_actor)

        async def run(self, item: tuple[Any, ...]) -> dict[str, Any]:
            from agents.gateway import _RESPONSE_CACHE, use_response_cache
            from agents.limits import reset_limiter, use_limiter

            ltoken = use_limiter(self.client) if self.client is not None else None
            ctoken = use_response_cache(self.cache) if self.cache is not None else None
            try:
                return await self.core.run(item)
            finally:
                if ctoken is not None:
                    _RESPONSE_CACHE.reset(ctoken)
                if ltoken is not None:
                    reset_limiter(ltoken)

        async def cancel(self) -> None:
            self.core.cancel.set()

        async def ping(self) -> int:
            return os.getpid()

        async def cache_stats(self) -> dict[str, Any] | None:
            c = self.cache
            if c is None or isinstance(c, _RemoteCache):
                return None
            stats = {"hits": c.hits, "misses": c.misses, "stored": c.stored, "error": c.error}
            c.close()
            return stats

    _CLASSES.update(LimiterActor=LimiterActor, CacheActor=CacheActor, BatchWorker=BatchWorker)
    return _CLASSES


class _RemoteCache:
    """The response cache of a driver on another node (blocking gets: correct, not fast)."""

    def __init__(self, actor: Any) -> None:
        self.actor = actor

    def get(self, key: str) -> Any:
        import ray

        return ray.get(self.actor.get.remote(key))

    def put(self, key: str, reply: Any) -> None:
        self.actor.put.remote(key, reply)


class RayPool:
    def __init__(self, ray: Any, workers: int, concurrency: int, make: Any) -> None:
        self.ray = ray
        self.per = split(concurrency, workers)
        self.slots = [w for w in range(workers) for _ in range(self.per[w])]
        self.make = make
        self.generation = [0] * workers
        self.actors = [make(w, 0, self.per[w]) for w in range(workers)]
        self.lock = asyncio.Lock()
        self.lost = 0
        self.on_replace: Any = None

    def name(self, w: int, generation: int | None = None) -> str:
        return self.make.names(w, self.generation[w] if generation is None else generation)

    async def ready(self) -> None:
        await asyncio.gather(*(a.ping.remote() for a in self.actors))

    async def submit(self, w: int, item: tuple[Any, ...]) -> dict[str, Any]:
        ray = self.ray
        generation, actor = self.generation[w], self.actors[w]
        try:
            return await actor.run.remote(item)
        except ray.exceptions.RayTaskError as exc:  # our code raised inside the actor: a failed run
            return {"index": item[0], "status": "failed", "reason": f"worker error: {str(exc).splitlines()[0]}",
                    "lines": [], "usage": [0, 0, 0.0], "duration_s": 0.0}
        except ray.exceptions.RayError as exc:
            raise WorkerLost(f"worker {self.name(w, generation)} lost: {type(exc).__name__}", generation) from None

    async def replace(self, w: int, generation: int) -> None:
        async with self.lock:
            if self.generation[w] != generation:
                return  # another slot of the same worker already replaced it
            self.lost += 1
            old = self.actors[w]
            if self.on_replace is not None:
                await self.on_replace(self.name(w, generation))
            try:
                self.ray.kill(old, no_restart=True)
            except Exception:  # noqa: BLE001 - already gone
                pass
            self.generation[w] += 1
            self.actors[w] = self.make(w, self.generation[w], self.per[w])

    async def cancel_all(self) -> None:
        for actor in self.actors:
            try:
                actor.cancel.remote()
            except Exception:  # noqa: BLE001 - a dead one
                pass


class _Maker:
    def __init__(self, classes: dict[str, Any], base: str, tables_ref: Any, limits: dict[str, Any], limiter: Any,
                 cache_path: str | None, node: str | None, cache_actor: Any) -> None:
        self.classes, self.base, self.tables_ref = classes, base, tables_ref
        self.limits, self.limiter, self.cache_path, self.node, self.cache_actor = limits, limiter, cache_path, node, cache_actor

    def names(self, w: int, generation: int) -> str:
        return f"{self.base}-w{w}-g{generation}"

    def __call__(self, w: int, generation: int, slots: int) -> Any:
        return self.classes["BatchWorker"].options(
            name=self.names(w, generation), namespace=NAMESPACE, max_concurrency=slots + 8,
        ).remote(self.names(w, generation), self.tables_ref, self.limits, self.limiter, self.cache_path, self.node, self.cache_actor)


def _connect(ray: Any, address: str | None, workers: int | None) -> bool:
    """Join or start a cluster; True when this call started it (and so must stop it)."""
    if ray.is_initialized():
        return False
    common = {"namespace": NAMESPACE, "logging_level": logging.ERROR, "log_to_driver": False}
    if address:
        ray.init(address=address, **common)
        return False
    ray.init(num_cpus=workers or os.cpu_count() or 1, include_dashboard=False, **common)
    return True


async def run_on_ray(todo: list[Any], concurrency: int, progress: Any, outcomes: dict[str, Any], notify: Any,
                     cancel: asyncio.Event, max_failure_rate: float | None, min_runs: int, *, workers: int | None,
                     address: str | None, limits: dict[str, Any], cache_path: Path | None) -> tuple[str | None, dict[str, Any]]:
    import ray

    started = _connect(ray, address, workers)
    info: dict[str, Any] = {"kind": "ray", "address": address or ("local cluster" if started else "already connected")}
    classes = _classes(ray)
    cpus = int(ray.cluster_resources().get("CPU", 1) or 1)
    n = max(1, min(workers or cpus, cpus, max(1, len(todo))))
    info["workers"] = n
    base = f"batch-{uuid.uuid4().hex[:8]}"
    limiter = classes["LimiterActor"].options(name=f"{base}-limiter", namespace=NAMESPACE).remote(limits) if limits else None
    node = ray.get_runtime_context().get_node_id()
    cache_actor = None
    if cache_path is not None:
        from ray.util.scheduling_strategies import NodeAffinitySchedulingStrategy

        cache_actor = classes["CacheActor"].options(
            scheduling_strategy=NodeAffinitySchedulingStrategy(node_id=node, soft=False)
        ).remote(str(cache_path))
    tables, items = tables_for(todo)
    maker = _Maker(classes, base, ray.put(tables), limits, limiter, str(cache_path) if cache_path else None, node, cache_actor)
    pool = RayPool(ray, n, concurrency, maker)
    if limiter is not None:
        async def forget(name: str) -> None:
            await limiter.forget_worker.remote(name)

        pool.on_replace = forget
    driver = _RedoCapped(todo, items, progress, outcomes, notify, cancel, max_failure_rate, min_runs)
    try:
        await pool.ready()
        stop = await driver.run(pool)
        if limiter is not None:
            info["limits"] = await limiter.stats.remote()
        if cache_path is not None:
            info["cache"] = await _cache_totals(pool, cache_actor)
    finally:
        for actor in pool.actors:
            try:
                ray.kill(actor, no_restart=True)
            except Exception:  # noqa: BLE001
                pass
        for actor in (limiter, cache_actor):
            if actor is not None:
                try:
                    ray.kill(actor, no_restart=True)
                except Exception:  # noqa: BLE001
                    pass
        if started:
            ray.shutdown()
    info["lost_workers"] = pool.lost
    info["redone"] = driver.redone
    return stop, info


async def _cache_totals(pool: RayPool, cache_actor: Any) -> dict[str, Any]:
    totals = await cache_actor.stats.remote()
    await cache_actor.close.remote()
    for stats in await asyncio.gather(*(a.cache_stats.remote() for a in pool.actors), return_exceptions=True):
        if isinstance(stats, dict):
            for k in ("hits", "misses", "stored"):
                totals[k] += stats[k]
            totals["error"] = totals["error"] or stats["error"]
    return totals


class _RedoCapped(Driver):
    """A run whose worker died MAX_REDO times is recorded as failed instead of tried forever."""

    async def _slot(self, pool: Any, w: int) -> None:  # type: ignore[override]
        await super()._slot(_Capped(pool, self), w)


class _Capped:
    def __init__(self, pool: Any, driver: Driver) -> None:
        self.pool, self.driver = pool, driver

    def __getattr__(self, name: str) -> Any:
        return getattr(self.pool, name)

    async def submit(self, w: int, item: tuple[Any, ...]) -> dict[str, Any]:
        run_id = self.driver.todo[item[0]].run_id
        if sum(1 for r in self.driver.redone if r["run_id"] == run_id) >= MAX_REDO:
            return {"index": item[0], "status": "failed", "lines": [], "usage": [0, 0, 0.0], "duration_s": 0.0,
                    "reason": f"its worker died {MAX_REDO} times while running it"}
        return await self.pool.submit(w, item)
