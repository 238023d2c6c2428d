"""One lock discipline for every writer of a transcript: `run`, `batch` and `score`.

A writer holds an exclusive advisory lock (`fcntl.flock`) on the transcript file itself while it
writes: the runner for the whole run, the scorer for one append. A second writer of the same run id
is refused at once with `TranscriptBusy` (a one-line message) instead of deleting or interleaving a
live file; a scorer waits briefly, then re-reads the file under the lock, so two scorers never
append the same score. The lock goes with the process (kill -9 included); nothing is left to clean up.
Without fcntl (not POSIX) there is no lock, as before.
"""

from __future__ import annotations

import os
import time
from pathlib import Path
from typing import IO, Any

try:
    import fcntl
except ImportError:  # pragma: no cover - not POSIX
    fcntl = None  # type: ignore[assignment]

__all__ = ["TranscriptBusy", "TranscriptLock", "claim_transcript"]


class TranscriptBusy(Exception):
    """Another process is writing this transcript."""

    def __init__(self, path: Path) -> None:
        self.path = path
        super().__init__(f"{path}: another process is writing this run (same case, team, model and seed); wait for it to finish or use another --seed or --out")


class TranscriptLock:
    """An exclusive lock on `path` (created if missing). `fh` is a binary read/append handle on it."""

    def __init__(self, path: Path | str) -> None:
        self.path = Path(path)
        self.fh: IO[bytes] | None = None

    def acquire(self, wait_s: float = 0.0) -> TranscriptLock:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        fh: Any = open(self.path, "ab+")  # never truncates, never unlinks: a live file stays intact
        if fcntl is not None:
            deadline = time.monotonic() + wait_s
            while True:
                try:
                    fcntl.flock(fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
                    break
                except OSError:
                    if time.monotonic() >= deadline:
                        fh.close()
                        raise TranscriptBusy(self.path) from None
                    time.sleep(0.05)
        self.fh = fh
        return self

    def truncate(self) -> None:
        """Empty the file (a new attempt of the same run replaces the old one), under the lock.
        A file that is empty already (a new run) is left alone: on ext4 a truncate arms
        `auto_da_alloc`, which makes the writer's close start writing the file back, 50-300 us a
        run that a new transcript does not need."""
        assert self.fh is not None
        if os.fstat(self.fh.fileno()).st_size == 0:
            return
        self.fh.truncate(0)
        self.fh.flush()

    def release(self) -> None:
        if self.fh is not None:
            self.fh.close()  # closing the descriptor drops the flock
            self.fh = None

    def __enter__(self) -> TranscriptLock:
        return self.acquire() if self.fh is None else self

    def __exit__(self, *exc: object) -> None:
        self.release()


def claim_transcript(path: Path | str) -> TranscriptLock:
    """Lock `path` for a new run and empty it; `TranscriptBusy` when another process holds it."""
    lock = TranscriptLock(path).acquire()
    lock.truncate()
    return lock
