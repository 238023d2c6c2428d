"""A scheduler simulation: how long would a big batch take under given limits? (docs/BATCHES.md)

    python -m agents.executors.simulate --runs 100000 --concurrency 2000 \\
        --provider 'openai=scripted/preferred?latency=1.5&rate_limit_rate=0.002&retry_after=2' \\
        --provider 'anthropic=scripted/preferred?latency=2.5' --provider 'gemini=scripted/preferred?latency=1' \\
        --limit openai=400 --limit openai:rpm=20000 --limit anthropic=200 --limit gemini:rpm=6000

Runs are shared equally among the providers (each run uses one provider's model for all its calls, as
`--model` does). Every run makes `--calls` sequential calls (9: the default team's 8 turns and the
resolution). A call holds its `--limit` slots (the real `agents.limits.Limiter`) for the scripted
model's `latency`; a share `rate_limit_rate` of calls gets a 429 announcing `retry_after`, which closes
that provider's gate (as the gateway does) before the call is retried. Time is virtual (an event loop
whose clock jumps to the next timer), so 100,000 runs take seconds of CPU, not hours. Engine CPU is
not modelled (it is spread over workers: `--workers`, Ray).

The lower bound is the largest of: all call-seconds divided by `--concurrency`; per provider, its
call-seconds divided by its concurrency limit, its calls divided by its requests per minute, and one
run's calls back to back. Limits are per provider name here (`--limit openai=400`).
"""

from __future__ import annotations

import argparse
import asyncio
import json
import math
import random
import selectors
from typing import Any

from agents.limits import Limiter, parse_limits
from agents.providers.scripted import parse_model


class _VirtualSelector(selectors.BaseSelector):
    """Never waits: advances the loop's virtual clock by the timeout instead."""

    def __init__(self) -> None:
        self._map: dict[Any, selectors.SelectorKey] = {}
        self.loop: VirtualLoop | None = None

    def register(self, fileobj: Any, events: int, data: Any = None) -> selectors.SelectorKey:
        key = selectors.SelectorKey(fileobj, 0, events, data)
        self._map[fileobj] = key
        return key

    def unregister(self, fileobj: Any) -> selectors.SelectorKey:
        return self._map.pop(fileobj)

    def select(self, timeout: float | None = None) -> list[Any]:
        if timeout and self.loop is not None:
            self.loop.now += timeout
        return []

    def get_map(self) -> Any:
        return self._map


class VirtualLoop(asyncio.SelectorEventLoop):
    def __init__(self) -> None:
        selector = _VirtualSelector()
        self.now = 0.0
        super().__init__(selector=selector)
        selector.loop = self

    def time(self) -> float:
        return self.now


def simulate(runs: int, concurrency: int, providers: dict[str, str], limits: list[str], calls: int = 9, seed: int = 0) -> dict[str, Any]:
    loop = VirtualLoop()
    try:
        return loop.run_until_complete(_simulate(loop, runs, concurrency, providers, limits, calls, seed))
    finally:
        loop.close()


async def _simulate(loop: VirtualLoop, runs: int, concurrency: int, providers: dict[str, str], limit_specs: list[str],
                    calls: int, seed: int) -> dict[str, Any]:
    limits = parse_limits(limit_specs)
    limiter = Limiter(limits, clock=loop.time)
    names = list(providers)
    configs = {p: parse_model(m) for p, m in providers.items()}
    rng = random.Random(seed)
    queue = iter(range(runs))
    done = {p: 0 for p in names}
    throttles = {p: 0 for p in names}
    finish = {p: 0.0 for p in names}

    async def one_call(provider: str) -> None:
        cfg = configs[provider]
        model = f"{provider}/{providers[provider]}"
        while True:
            await limiter.acquire(model)
            try:
                await asyncio.sleep(cfg.latency)
                limited = cfg.rate_limit_rate and rng.random() < cfg.rate_limit_rate
            finally:
                await limiter.release(model)
            if not limited:
                return
            throttles[provider] += 1
            await limiter.throttled(model, cfg.retry_after)
            await asyncio.sleep(cfg.retry_after)

    async def worker() -> None:
        for i in queue:
            provider = names[i % len(names)]
            for _ in range(calls):
                await one_call(provider)
            done[provider] += 1
            finish[provider] = loop.time()

    await asyncio.gather(*(worker() for _ in range(min(concurrency, runs))))
    wall = loop.time()
    bound, why = _bound(runs, concurrency, providers, configs, limits, calls)
    return {
        "runs": runs, "concurrency": concurrency, "calls_per_run": calls, "providers": providers, "limits": limit_specs,
        "wall_s": round(wall, 1), "wall_h": round(wall / 3600, 2), "lower_bound_s": round(bound, 1),
        "bound_set_by": why, "wall_over_bound": round(wall / bound, 3) if bound else None,
        "finished_at_s": {p: round(t, 1) for p, t in finish.items()}, "rate_limited_calls": throttles,
        "limiter": limiter.stats(),
    }


def _bound(runs: int, concurrency: int, providers: dict[str, str], configs: dict[str, Any], limits: dict[str, Any], calls: int) -> tuple[float, str]:
    n = len(providers)
    candidates: list[tuple[float, str]] = []
    total_call_s = 0.0
    for i, p in enumerate(providers):
        share = runs // n + (1 if i < runs % n else 0)
        lat = configs[p].latency
        total_call_s += share * calls * lat
        keys = [k for k in (p, f"{p}/{providers[p]}") if k in limits]
        cap = min([limits[k].concurrent for k in keys if limits[k].concurrent] or [concurrency])
        candidates.append((share * calls * lat / min(cap, concurrency), f"{p}: its call-seconds / {min(cap, concurrency)} in flight"))
        rpms = [limits[k].rpm for k in keys if limits[k].rpm]
        if rpms:
            candidates.append((share * calls / (min(rpms) / 60.0), f"{p}: calls / {min(rpms):g} per minute"))
        candidates.append((calls * lat, f"{p}: one run's calls"))
    candidates.append((total_call_s / concurrency, f"all call-seconds / {concurrency} in flight"))
    return max(candidates)


def main(argv: list[str] | None = None) -> None:  # pragma: no cover - a command-line tool
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0], formatter_class=argparse.RawDescriptionHelpFormatter, epilog=__doc__)
    ap.add_argument("--runs", type=int, default=100_000)
    ap.add_argument("--concurrency", type=int, default=2000)
    ap.add_argument("--calls", type=int, default=9)
    ap.add_argument("--provider", action="append", required=True, metavar="NAME=scripted/POLICY?latency=S&...")
    ap.add_argument("--limit", action="append", default=[], metavar="KEY=N|KEY:rpm=N")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    providers = {}
    for spec in args.provider:
        name, _, model = spec.partition("=")
        providers[name] = model.removeprefix("scripted/")
    print(json.dumps(simulate(args.runs, args.concurrency, providers, args.limit, args.calls, args.seed), indent=2))


if __name__ == "__main__":  # pragma: no cover
    main()
