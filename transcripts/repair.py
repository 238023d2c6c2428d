"""Repairing a transcript whose last line was cut off mid-write (a crash, a kill -9, a full disk).

The cut-off bytes are moved, never dropped: they are appended to `<transcript>.damaged` beside the
file (not a `*.jsonl`, so no scan mistakes it for a run), then the transcript is truncated back to its
last whole event. A run whose `run_ended` survives is then scored again; one whose end was cut off
reads as interrupted and a batch runs it again. Done under the transcript's lock: a file another
process is writing is left alone.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

from transcripts.locks import TranscriptBusy, TranscriptLock

__all__ = ["DAMAGED_SUFFIX", "ends_cut_off", "repair_cut_off"]

DAMAGED_SUFFIX = ".damaged"


def ends_cut_off(path: Path | str) -> bool:
    """True when the file's last byte is not a newline (cheap: reads one byte)."""
    try:
        with open(path, "rb") as fh:
            fh.seek(0, os.SEEK_END)
            if fh.tell() == 0:
                return False
            fh.seek(-1, os.SEEK_END)
            return fh.read(1) != b"\n"
    except OSError:
        return False


def repair_cut_off(path: Path | str) -> str | None:
    """Repair a cut-off last line; a one-line note of what was done, or None (nothing to do, or busy)."""
    path = Path(path)
    if not ends_cut_off(path):
        return None
    try:
        lock = TranscriptLock(path).acquire()
    except (TranscriptBusy, OSError):
        return None
    with lock:
        fh = lock.fh
        assert fh is not None
        fh.seek(0)
        data = fh.read()
        cut = data.rfind(b"\n") + 1
        tail = data[cut:]
        if not tail.strip():
            return None
        try:
            if isinstance(json.loads(tail.decode("utf-8")), dict):
                fh.write(b"\n")  # a whole event that only lacks its newline: keep it
                fh.flush()
                return f"{path}: last line had no newline; added one"
        except (ValueError, UnicodeDecodeError):
            pass
        sidecar = path.with_name(path.name + DAMAGED_SUFFIX)
        with open(sidecar, "ab") as out:
            out.write(tail + b"\n")
            out.flush()
            os.fsync(out.fileno())  # the damaged bytes are safe before the transcript loses them
        fh.truncate(cut)
        fh.flush()
        line = data.count(b"\n") + 1
    return f"{path}:{line}: cut-off last line ({len(tail)} bytes) moved to {sidecar.name}; transcript repaired to its last whole event"
