"""What the demo needs from the rest of grandrounds: cases, teams, one run, its score. No widgets.

A live run executes in a worker thread with its own event loop (`run_blocking`), so a model that
blocks (the embedded one) cannot freeze the UI; events reach the UI through `on_event`.
"""

from __future__ import annotations

import asyncio
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Callable

from transcripts.events import Event

__all__ = ["CaseChoice", "LiveRun", "TeamChoice", "list_cases", "list_teams", "score_run"]


@dataclass(frozen=True)
class CaseChoice:
    id: str
    title: str
    summary: str
    specialty: str
    path: Path


@dataclass(frozen=True)
class TeamChoice:
    id: str
    title: str
    model: str
    protocol: str
    members: int
    path: Path


def list_cases(folder: Path | None = None) -> tuple[list[CaseChoice], list[str]]:
    """The case library (or `folder`): the cases that load, and the problems of those that do not."""
    from scenarios.loader import load_scenarios

    loaded, problems = load_scenarios(folder)
    cases = [
        CaseChoice(s.id, s.title, " ".join(s.summary.split()), s.specialty, path)
        for path, s in sorted(loaded, key=lambda item: item[1].title.lower())
    ]
    return cases, list(problems)


def list_teams() -> tuple[list[TeamChoice], list[str]]:
    from agents.team_loader import TeamError, list_teams as bundled, load_team

    teams, problems = [], []
    for path in bundled():
        try:
            team = load_team(path)
        except TeamError as exc:
            problems.append(str(exc))
            continue
        teams.append(TeamChoice(team.id, team.title, team.model, team.protocol, len(team.members), path))
    teams.sort(key=lambda t: (t.id != "default", t.id))
    return teams, problems


@dataclass
class LiveRequest:
    case: str  # id or path
    team: str = "default"  # id or path
    model: str | None = None
    seed: int = 0
    batch: str = "demo"
    out_dir: Path | None = None


class LiveRun:
    """One run in the calling (worker) thread; `cancel()` may be called from any thread."""

    def __init__(self, request: LiveRequest) -> None:
        self.request = request
        self._loop: asyncio.AbstractEventLoop | None = None
        self._cancel: asyncio.Event | None = None
        self._cancel_requested = threading.Event()
        self.path: Path | None = None

    def build_spec(self) -> Any:
        from agents.specs import run_spec

        request = self.request
        spec = run_spec(
            request.case,
            request.team,
            model=request.model,
            seed=request.seed,
            batch=request.batch,
            out_dir=request.out_dir,
        )
        self.path = spec.path
        return spec

    def run_blocking(self, on_event: Callable[[Event], None]) -> Any:
        """Run to the end (or to cancellation) and return the runner's RunResult."""
        from agents.runner import arun

        spec = self.build_spec()
        loop = asyncio.new_event_loop()
        self._loop = loop
        try:
            asyncio.set_event_loop(loop)
            self._cancel = asyncio.Event()
            if self._cancel_requested.is_set():
                self._cancel.set()
            try:
                return loop.run_until_complete(arun(spec, on_event=on_event, cancel=self._cancel))
            except asyncio.CancelledError:
                return None  # the runner wrote run_ended (interrupted) before re-raising
        finally:
            self._loop = None
            asyncio.set_event_loop(None)
            loop.close()

    def cancel(self) -> None:
        self._cancel_requested.set()
        loop, cancel = self._loop, self._cancel
        if loop is not None and cancel is not None and not loop.is_closed():
            try:
                loop.call_soon_threadsafe(cancel.set)
            except RuntimeError:  # the loop closed meanwhile: the run is over anyway
                pass


def score_run(path: Path) -> Any:
    """Score a finished transcript with the rules (no judge); appends the score event."""
    from transcripts.scoring import score_transcript

    return score_transcript(path)
