"""Writing and reading transcripts: append-only JSONL, flushed per event, read back tolerantly."""

from __future__ import annotations

import errno
import json
import os
from dataclasses import dataclass, field
from pathlib import Path
from typing import IO, Any

from pydantic import ValidationError

from transcripts.events import (
    EVENT_VERSION,
    Event,
    OpaqueEvent,
    ResolutionReached,
    RunEnded,
    RunStarted,
    Scored,
    TurnTaken,
    parse_event,
)
from transcripts.event_lines import event_line
from transcripts.redaction import secret_values


class TranscriptWriter:
    """Appends events to `path`, one line each, flushed as written: a crash of the process loses
    nothing written. Nothing is fsynced by default (it cost ~0.7 ms per run on the event loop); after
    a power loss a batch simply redoes the runs whose transcripts end early. `fsync=True` syncs
    every event.
    """

    def __init__(self, path: Path, *, fsync: bool = False, events_before: int | None = None) -> None:
        """`events_before`: how many events the file holds already, when the caller knows (a run
        that has just emptied its file under the lock says 0); read from the file otherwise."""
        self.path = Path(path)
        if events_before is None:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        self._seq = _count_lines(self.path) if events_before is None else events_before
        self._fh: IO[bytes] = open(self.path, "ab", buffering=0)  # unbuffered: each write is one syscall
        self._fsync = fsync
        self._secrets = secret_values()  # read once per writer (a run): the environment does not change mid-run

    def write(self, event: Event) -> Event:
        event.seq = self._seq
        line = event_line(event, self._secrets)  # no key on disk, whatever a reply echoes
        _write_all(self._fh, (line + "\n").encode("utf-8"))  # on disk (the OS's cache) before the next event
        if self._fsync:
            os.fsync(self._fh.fileno())
        self._seq += 1
        return event

    def close(self) -> None:
        if not self._fh.closed:
            self._fh.close()

    def discard(self) -> None:
        """Close after a failed write (e.g. a full disk) without raising again for the unwritten buffer."""
        try:
            self.close()
        except OSError:
            pass

    def __enter__(self) -> TranscriptWriter:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _write_all(fh: IO[bytes], data: bytes) -> None:
    """An unbuffered write may take part of `data` (a full disk takes what fits, then raises)."""
    view = memoryview(data)
    while view:
        written = fh.write(view)
        if not written:
            raise OSError(errno.EIO, "nothing written")
        view = view[written:]


def _count_lines(path: Path) -> int:
    if not path.exists():
        return 0
    with open(path, "rb") as fh:
        return sum(1 for line in fh if line.strip())


def append_event(path: Path, event: Event) -> Event:
    """Append one event to an existing transcript (used by the scorer)."""
    with TranscriptWriter(path) as writer:
        return writer.write(event)


@dataclass
class Transcript:
    """A transcript as read from disk, with the problems met while reading it."""

    path: Path
    events: list[Event] = field(default_factory=list)
    problems: list[str] = field(default_factory=list)
    truncated: bool = False
    size: int = -1  # bytes read, and the file's mtime then: a writer can tell whether it changed since
    mtime_ns: int = -1

    @property
    def started(self) -> RunStarted | None:
        first = self.events[0] if self.events else None
        return first if isinstance(first, RunStarted) else None

    @property
    def ended(self) -> RunEnded | None:
        return next((e for e in reversed(self.events) if isinstance(e, RunEnded)), None)

    @property
    def status(self) -> str:
        if self.started is None:
            return "corrupt"
        ended = self.ended
        return ended.status if ended else "interrupted"

    @property
    def turns(self) -> list[TurnTaken]:
        return [e for e in self.events if isinstance(e, TurnTaken)]

    @property
    def resolution(self) -> ResolutionReached | None:
        return next((e for e in reversed(self.events) if isinstance(e, ResolutionReached)), None)

    @property
    def scores(self) -> list[Scored]:
        return [e for e in self.events if isinstance(e, Scored)]

    def latest_score(self, judge: str | None = None) -> Scored | None:
        """Newest score event, or the newest from `judge` when one is named."""
        for event in reversed(self.scores):
            if judge is None or event.judge == judge:
                return event
        return None

    @property
    def run_id(self) -> str:
        return self.started.run_id if self.started else self.path.stem


def read_transcript(path: Path) -> Transcript:
    """Read a transcript, accepting a file cut off at any point.

    A last line without a newline that does not parse is a truncated write and is dropped with a
    note; any other line that does not parse is skipped and reported, never fatal.
    """
    path = Path(path)
    result = Transcript(path=path)
    try:
        stat = path.stat()
        data = path.read_bytes()
        if len(data) == stat.st_size:
            result.size, result.mtime_ns = stat.st_size, stat.st_mtime_ns
    except OSError as exc:
        result.problems.append(f"{path}: cannot read: {exc.strerror or exc}")
        return result
    lines = data.split(b"\n")
    ends_cleanly = data.endswith(b"\n") or not data
    for number, raw in enumerate(lines, start=1):
        if not raw.strip():
            continue
        is_last = number == len(lines)
        try:
            obj: Any = json.loads(raw.decode("utf-8"))
            if not isinstance(obj, dict):
                raise ValueError("not a JSON object")
            event = parse_event(obj)
            result.events.append(event)
            note = _reading_note(event, obj)
            if note:
                result.problems.append(f"{path}:{number}: {note}")
        except (ValueError, UnicodeDecodeError, ValidationError) as exc:
            if is_last and not ends_cleanly:
                result.truncated = True
                result.problems.append(f"{path}:{number}: last line is cut off (the run stopped mid-write); ignored")
            else:
                result.problems.append(f"{path}:{number}: not a valid event: {_one_line(exc)}")
    if result.events and not isinstance(result.events[0], RunStarted):
        result.problems.append(f"{path}:1: transcript does not start with run_started")
    elif not result.events and not result.problems:
        result.problems.append(f"{path}: empty transcript")
    return result


def _reading_note(event: Event, obj: dict[str, Any]) -> str | None:
    """What a reader should know about an event that was kept but not fully understood."""
    if isinstance(event, OpaqueEvent):
        newer = isinstance(obj.get("v"), int) and obj["v"] > EVENT_VERSION
        why = f"written by a newer version (v{obj.get('v')})" if newer else "not a type this version knows"
        return f"event {event.type!r} is {why}; kept as is, not interpreted"
    if event.payload_problem:
        return event.payload_problem
    if isinstance(obj.get("v"), int) and obj["v"] > EVENT_VERSION:
        return f"event {event.type!r} was written by a newer version (v{obj['v']}); read as v{EVENT_VERSION}"
    return None


def _one_line(exc: Exception) -> str:
    text = str(exc).strip().splitlines()
    return text[0] if text else type(exc).__name__
