"""Output folders that cannot take a transcript: found before the first run, reported in one line.

`check_output_dir(folder)` creates the folder and writes (then removes) a probe file in it, so a
folder under /proc or /sys, on a read-only mount, behind a file (`GRANDROUNDS_HOME` pointing at a
file) or on a full disk is refused before any model call. `OutputWriteError` is what a run raises
when a write fails later (ENOSPC mid-batch): the batch stops launching runs on the first one.
"""

from __future__ import annotations

import errno
import os
import tempfile
from pathlib import Path

__all__ = ["OutputError", "OutputWriteError", "check_output_dir", "describe_os_error"]


class OutputError(Exception):
    """An output folder that cannot be written (one-line message)."""


class OutputWriteError(OSError):
    """A write to a transcript failed (disk full, quota, I/O error); the run's outcome is unknown on disk."""

    def __init__(self, path: Path, cause: OSError) -> None:
        self.path, self.cause = path, cause
        super().__init__(cause.errno, f"cannot write {path}: {describe_os_error(cause)}")

    def __str__(self) -> str:
        return self.strerror or ""


def describe_os_error(exc: OSError) -> str:
    reason = exc.strerror or type(exc).__name__
    if exc.errno in (errno.ENOSPC, errno.EDQUOT):
        reason += " (free some space, then run the same command again to resume)"
    return reason


def check_output_dir(folder: Path | str, what: str = "output folder") -> Path:
    """The folder, created if needed and proven writable; `OutputError` otherwise."""
    folder = Path(folder)
    for parent in [folder, *folder.parents]:
        if parent.exists() and not parent.is_dir():
            raise OutputError(f"{folder}: cannot use as {what}: {parent} is a file, not a folder")
        if parent.exists():
            break
    try:
        folder.mkdir(parents=True, exist_ok=True)
        fd, probe = tempfile.mkstemp(prefix=".write-probe-", dir=folder)
        try:
            os.write(fd, b"probe\n")
            os.fsync(fd)
        finally:
            os.close(fd)
            os.unlink(probe)
    except OSError as exc:
        raise OutputError(f"{folder}: cannot write to this {what}: {describe_os_error(exc)}") from None
    return folder
