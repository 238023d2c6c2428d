"""SIGTERM (sent by `timeout`, container stops, Slurm) handled like Ctrl-C.

Inside `sigterm_as_sigint()`, a SIGTERM raises SIGINT in this process, so the command's own Ctrl-C
path runs: the run records `interrupted`, the summary is printed, the spend is counted.
"""

from __future__ import annotations

import signal
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

__all__ = ["sigterm_as_sigint"]


@contextmanager
def sigterm_as_sigint() -> Iterator[None]:
    if not hasattr(signal, "SIGTERM"):  # pragma: no cover - not POSIX
        yield
        return

    def on_term(signum: int, frame: Any) -> None:
        signal.signal(signal.SIGTERM, previous)  # a second SIGTERM acts as usual
        signal.raise_signal(signal.SIGINT)

    try:
        previous = signal.signal(signal.SIGTERM, on_term)
    except ValueError:  # pragma: no cover - not the main thread
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
