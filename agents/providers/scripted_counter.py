"""The scripted model's call counter: calls in flight now, the peak and the total, in this process
and, with GRANDROUNDS_SCRIPTED_COUNTER=FILE, across every process that has it set."""

from __future__ import annotations

import json

__all__ = ["COUNTER", "COUNTER_ENV", "CallCounter", "read_shared"]

COUNTER_ENV = "GRANDROUNDS_SCRIPTED_COUNTER"


class CallCounter:
    """Scripted calls in flight: now, the peak, and the total, in this process (`in_flight`, `peak`,
    `calls`) and, when GRANDROUNDS_SCRIPTED_COUNTER names a file, across every process that has it
    set (a JSON file updated under an exclusive lock: workers of one machine, or of a Ray local
    cluster, count together). `reset()` starts again; `read_shared(path)` reads the file."""

    def __init__(self) -> None:
        self.in_flight = 0
        self.peak = 0
        self.calls = 0

    def reset(self) -> None:
        self.in_flight = self.peak = self.calls = 0

    def enter(self) -> None:
        self.in_flight += 1
        self.calls += 1
        if self.in_flight > self.peak:
            self.peak = self.in_flight
        path = _counter_path()
        if path:
            _update_shared(path, +1)

    def exit(self) -> None:
        self.in_flight -= 1
        path = _counter_path()
        if path:
            _update_shared(path, -1)


def _counter_path() -> str | None:
    import os

    return os.environ.get(COUNTER_ENV) or None


def read_shared(path: str) -> dict[str, int]:
    """{"in_flight", "peak", "calls"} from a shared counter file (zeros when it does not exist)."""
    try:
        with open(path, encoding="utf-8") as fh:
            data = json.loads(fh.read() or "{}")
    except (OSError, ValueError):
        data = {}
    return {k: int(data.get(k, 0)) for k in ("in_flight", "peak", "calls")}


def _update_shared(path: str, delta: int) -> None:
    import fcntl

    with open(path, "a+", encoding="utf-8") as fh:
        fcntl.flock(fh.fileno(), fcntl.LOCK_EX)
        try:
            fh.seek(0)
            try:
                data = json.loads(fh.read() or "{}")
            except ValueError:
                data = {}
            now = int(data.get("in_flight", 0)) + delta
            data["in_flight"] = now
            data["peak"] = max(int(data.get("peak", 0)), now)
            if delta > 0:
                data["calls"] = int(data.get("calls", 0)) + 1
            fh.seek(0)
            fh.truncate()
            fh.write(json.dumps(data))
            fh.flush()
        finally:
            fcntl.flock(fh.fileno(), fcntl.LOCK_UN)


COUNTER = CallCounter()
