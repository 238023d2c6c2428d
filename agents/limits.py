"""Limits per provider or per model, shared by every run of a batch (`grandrounds batch --limit ...`).

    limits = parse_limits(["openai=32", "openai:rpm=600", "anthropic/claude-3-5-haiku:tpm=200000"])
    limiter = Limiter(limits)
    token = use_limiter(limiter)        # the gateway consults it around every model call

A limit's key is a provider (`openai`, the part of a model name before the first `/`) or a full
model name (`openai/gpt-4o-mini`); a call is subject to every limit whose key is its provider or its
model. Per key there are three optional limits:

- `KEY=N` (or `KEY:concurrent=N`): at most N calls in flight at once;
- `KEY:rpm=N`: at most N requests per minute (a token bucket refilled continuously, holding up to
  one second's worth, so calls are spread out rather than sent in a burst);
- `KEY:tpm=N`: at most N tokens per minute, charged before the call with an estimate (prompt
  characters / 4 + max_tokens) and settled with the real count when the reply arrives.

429 back-off is coordinated per key: when a call to a provider is rate limited, the limiter closes
that provider's gate for the delay the gateway is about to wait (Retry-After, or its back-off), so
every other run stops sending to that provider too instead of adding to the storm, while calls to
other providers go on untouched.

On the local executor the limiter lives on the batch's event loop. With `--workers N` or
`--executor ray` the same `Limiter` is held by the driver or by a named Ray actor, and workers reach
it through a proxy with the same three coroutines (`acquire`, `release`, `throttled`).
"""

from __future__ import annotations

import asyncio
import contextvars
import math
import re
import time
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field, replace
from typing import Any, Protocol

__all__ = ["Limit", "LimitError", "Limiter", "LimiterLike", "parse_limits", "use_limiter", "current_limiter", "keys_for"]


class LimitError(ValueError):
    """A --limit that cannot be understood; the message names it."""


@dataclass(frozen=True)
class Limit:
    key: str
    concurrent: int | None = None
    rpm: float | None = None
    tpm: float | None = None

    def describe(self) -> str:
        parts = []
        if self.concurrent is not None:
            parts.append(f"{self.concurrent} in flight")
        if self.rpm is not None:
            parts.append(f"{self.rpm:g} requests/min")
        if self.tpm is not None:
            parts.append(f"{self.tpm:g} tokens/min")
        return f"{self.key}: " + ", ".join(parts)


_KINDS = ("concurrent", "rpm", "tpm")
_KEY = re.compile(r"^[A-Za-z0-9][A-Za-z0-9_.:/@+?&=%,\-]*$")


def parse_limits(specs: Iterable[str]) -> dict[str, Limit]:
    """`["openai=32", "openai:rpm=600", "openai/gpt-4o:tpm=30000"]` -> {key: Limit}; raises LimitError."""
    out: dict[str, Limit] = {}
    for raw in specs:
        text = str(raw).strip()
        left, eq, value = text.rpartition("=")
        if not eq or not left or not value:
            raise LimitError(f"--limit {raw!r}: expected KEY=N, KEY:rpm=N or KEY:tpm=N (e.g. openai=32, openai:rpm=600)")
        key, kind = left, "concurrent"
        for k in _KINDS:
            if left.endswith(":" + k):
                key, kind = left[: -len(k) - 1], k
                break
        if not _KEY.match(key):
            raise LimitError(f"--limit {raw!r}: {key!r} is not a provider (openai) or a model name (openai/gpt-4o-mini)")
        try:
            number = float(value)
        except ValueError:
            raise LimitError(f"--limit {raw!r}: {value!r} is not a number") from None
        if not math.isfinite(number) or number <= 0 or (kind == "concurrent" and number != int(number)):
            what = "a whole number of calls, at least 1" if kind == "concurrent" else "a positive number"
            raise LimitError(f"--limit {raw!r}: {kind} must be {what}")
        current = out.get(key, Limit(key))
        out[key] = replace(current, **{kind: int(number) if kind == "concurrent" else number})
    return out


def keys_for(model: str, limits: dict[str, Any]) -> tuple[str, ...]:
    """The limit keys that apply to a call to `model`: its provider, then its full name."""
    provider = model.split("/", 1)[0] if "/" in model else model
    keys = []
    if provider in limits:
        keys.append(provider)
    if model != provider and model in limits:
        keys.append(model)
    return tuple(keys)


def estimate_tokens(messages: Sequence[dict[str, Any]], max_tokens: int) -> int:
    chars = sum(len(str(m.get("content", ""))) for m in messages)
    return max(1, chars // 4) + max(0, int(max_tokens))


class LimiterLike(Protocol):
    async def acquire(self, model: str, tokens: int = 0) -> None: ...
    async def release(self, model: str, estimated: int = 0, used: int = 0) -> None: ...
    async def throttled(self, model: str, delay: float) -> None: ...


class _Bucket:
    """A token bucket refilled at `per_minute / 60` per second, holding up to one second's worth."""

    def __init__(self, per_minute: float, now: float) -> None:
        self.rate = per_minute / 60.0
        self.capacity = max(1.0, self.rate)
        self.level = self.capacity
        self.stamp = now

    def _refill(self, now: float) -> None:
        self.level = min(self.capacity, self.level + (now - self.stamp) * self.rate)
        self.stamp = now

    def wait_for(self, amount: float, now: float) -> float:
        """Seconds until `amount` can be taken (a call bigger than the bucket waits for a full one)."""
        self._refill(now)
        need = min(amount, self.capacity)
        return 0.0 if self.level >= need else (need - self.level) / self.rate

    def take(self, amount: float) -> None:
        self.level -= amount  # may go below zero: a big call borrows from the next seconds

    def give(self, amount: float) -> None:
        self.level = min(self.capacity, self.level + amount)


@dataclass
class _Gate:
    limit: Limit
    semaphore: asyncio.Semaphore | None = None
    requests: _Bucket | None = None
    tokens: _Bucket | None = None
    closed_until: float = 0.0
    in_flight: int = 0
    peak: int = 0
    calls: int = 0
    throttles: int = 0
    waited_s: float = 0.0
    queue: asyncio.Lock = field(default_factory=asyncio.Lock)


@dataclass
class Limiter:
    """The limits of one batch, enforced on one event loop (see the module docstring)."""

    limits: dict[str, Limit]
    clock: Any = time.monotonic  # the scheduler simulation passes its virtual clock
    _gates: dict[str, _Gate] = field(default_factory=dict, init=False)

    def __post_init__(self) -> None:
        now = self.clock()
        for key, limit in self.limits.items():
            self._gates[key] = _Gate(
                limit,
                asyncio.Semaphore(limit.concurrent) if limit.concurrent else None,
                _Bucket(limit.rpm, now) if limit.rpm else None,
                _Bucket(limit.tpm, now) if limit.tpm else None,
            )

    def __bool__(self) -> bool:
        return bool(self.limits)

    def applies(self, model: str) -> bool:
        return bool(keys_for(model, self.limits))

    async def acquire(self, model: str, tokens: int = 0) -> None:
        """Wait until a call to `model` (about `tokens` tokens) may go; the caller must `release`."""
        began = self.clock()
        held: list[_Gate] = []  # semaphore taken
        passed: list[_Gate] = []  # counted in flight
        try:
            for key in keys_for(model, self.limits):
                gate = self._gates[key]
                if gate.semaphore is not None:
                    await gate.semaphore.acquire()
                    held.append(gate)
                if gate.closed_until > self.clock() or gate.requests is not None or (gate.tokens is not None and tokens):
                    async with gate.queue:  # one waiter at a time, first come first served
                        while True:
                            now = self.clock()
                            wait = gate.closed_until - now
                            if gate.requests is not None:
                                wait = max(wait, gate.requests.wait_for(1, now))
                            if gate.tokens is not None and tokens:
                                wait = max(wait, gate.tokens.wait_for(tokens, now))
                            if wait <= 1e-9:
                                break
                            await asyncio.sleep(wait)
                        if gate.requests is not None:
                            gate.requests.take(1)
                        if gate.tokens is not None and tokens:
                            gate.tokens.take(tokens)
                gate.in_flight += 1
                gate.calls += 1
                gate.peak = max(gate.peak, gate.in_flight)
                passed.append(gate)
        except BaseException:  # cancelled while waiting: give back what was taken
            for gate in held:
                gate.semaphore.release()  # type: ignore[union-attr]
            for gate in passed:
                gate.in_flight -= 1
            raise
        waited = self.clock() - began
        for gate in passed:
            gate.waited_s += waited

    async def release(self, model: str, estimated: int = 0, used: int = 0) -> None:
        """The call is over: free its slot; settle its token estimate against the real count."""
        for key in keys_for(model, self.limits):
            gate = self._gates[key]
            gate.in_flight = max(0, gate.in_flight - 1)
            if gate.semaphore is not None:
                gate.semaphore.release()
            if gate.tokens is not None and estimated:
                diff = estimated - used
                if diff > 0:
                    gate.tokens.give(diff)
                elif diff < 0:
                    gate.tokens.take(-diff)

    async def throttled(self, model: str, delay: float) -> None:
        """A call to `model` was rate limited and will retry in `delay` s: hold back its provider (and
        model) for as long, for every run of the batch."""
        until = self.clock() + max(0.0, delay)
        for key in keys_for(model, self.limits) or ():
            gate = self._gates[key]
            gate.throttles += 1
            gate.closed_until = max(gate.closed_until, until)

    def stats(self) -> dict[str, dict[str, Any]]:
        """Per key: the limit, the peak of calls in flight, calls, 429s seen, seconds spent waiting."""
        return {
            key: {
                "limit": gate.limit.describe(), "peak_in_flight": gate.peak, "calls": gate.calls,
                "throttled": gate.throttles, "waited_s": round(gate.waited_s, 3),
            }
            for key, gate in self._gates.items()
        }


_LIMITER: contextvars.ContextVar[Any] = contextvars.ContextVar("grandrounds_limiter", default=None)


def use_limiter(limiter: LimiterLike | None) -> contextvars.Token:
    """Calls made in this context (and tasks started from it) go through `limiter`."""
    return _LIMITER.set(limiter)


def current_limiter() -> Any:
    return _LIMITER.get()


def reset_limiter(token: contextvars.Token) -> None:
    _LIMITER.reset(token)
