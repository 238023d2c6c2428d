"""One run: a scenario, a team, a model and a seed in; a transcript on disk out.

The transcript is written as the run happens (one flushed line per event), so a crash or Ctrl-C
keeps everything up to the last event, and the run ends with a `run_ended` event whenever the
process is still alive to write one (status `interrupted` on cancellation).
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from functools import cached_property
from importlib import metadata
from pathlib import Path
from typing import Any

from agents.deliberation import RunContext, council_graph, recursion_limit
from agents.team import Team
from scenarios.model import Scenario
from transcripts.events import Event, ResolutionReached, RunEnded, RunStarted, Usage
from transcripts.paths import content_hash, make_run_id, runs_home, slug
from transcripts.locks import claim_transcript
from transcripts.writable import OutputWriteError
from transcripts.store import TranscriptWriter

DEFAULT_BATCH = "single"
_VERSIONED = ("grandrounds", "langgraph", "langchain-core", "litellm", "pydantic", "llama-cpp-python")


@dataclass
class RunSpec:
    """Everything that makes a run what it is. Same spec, same run id."""

    scenario: Scenario
    team: Team
    team_snapshot: dict[str, Any]
    model: str | None = None  # overrides every member's model, chair included
    seed: int = 0
    batch: str = DEFAULT_BATCH
    out_dir: Path | None = None  # default: <runs home>/<batch>
    disclosure: str | None = None  # overrides the team's disclosure level (options | none)

    @cached_property
    def scenario_json(self) -> dict[str, Any]:
        return _scenario_parts(self.scenario)[0]

    @cached_property
    def scenario_hash(self) -> str:
        return _scenario_parts(self.scenario)[1]

    @cached_property
    def team_hash(self) -> str:
        return _snapshot_hash(self.team_snapshot)

    @property
    def models(self) -> dict[str, str]:
        return self.team.models(self.model)

    @property
    def disclosure_level(self) -> str:
        return self.disclosure or self.team.disclosure

    @property
    def settings(self) -> dict[str, Any]:
        out: dict[str, Any] = {"model_override": self.model} if self.model else {}
        if self.disclosure and self.disclosure != self.team.disclosure:  # the team's own level is in its hash
            out["disclosure"] = self.disclosure
        return out

    @cached_property
    def run_id(self) -> str:
        return make_run_id(
            self.scenario.id, self.scenario_hash, self.team.id, self.team_hash, self.models, self.seed, self.settings
        )

    @property
    def directory(self) -> Path:
        return Path(self.out_dir) if self.out_dir else runs_home() / slug(self.batch or DEFAULT_BATCH, 80)

    @property
    def path(self) -> Path:
        return self.directory / f"{self.run_id}.jsonl"


@dataclass
class RunResult:
    run_id: str
    path: Path
    status: str
    reason: str = ""
    turns: int = 0
    usage: Usage = field(default_factory=Usage)
    duration_s: float = 0.0


# The runs of a batch (and of the bench) share one scenario object and one team snapshot: dump and
# hash each once, not once per run. Keyed by the object's identity, holding the object (so its id
# is not reused while cached); a loaded scenario or snapshot is never changed in place (variants and
# overrides are copies), so the same object has the same content.
_PARTS_MAX = 64
_SCENARIO_PARTS: dict[int, tuple[Scenario, dict[str, Any], str]] = {}
_SNAPSHOT_HASHES: dict[int, tuple[dict[str, Any], str]] = {}


def _scenario_parts(scenario: Scenario) -> tuple[dict[str, Any], str]:
    hit = _SCENARIO_PARTS.get(id(scenario))
    if hit is None or hit[0] is not scenario:
        data = scenario.model_dump(mode="json")
        if len(_SCENARIO_PARTS) >= _PARTS_MAX:
            _SCENARIO_PARTS.clear()
        hit = _SCENARIO_PARTS[id(scenario)] = (scenario, data, content_hash(data))
    return hit[1], hit[2]


def _snapshot_hash(snapshot: dict[str, Any]) -> str:
    hit = _SNAPSHOT_HASHES.get(id(snapshot))
    if hit is None or hit[0] is not snapshot:
        if len(_SNAPSHOT_HASHES) >= _PARTS_MAX:
            _SNAPSHOT_HASHES.clear()
        hit = _SNAPSHOT_HASHES[id(snapshot)] = (snapshot, content_hash(snapshot))
    return hit[1]


class _NoLock:
    """The lock of a transcript written elsewhere (a batch worker's events go to the driver)."""

    def release(self) -> None:
        pass


def package_versions() -> dict[str, str]:
    out = {}
    for name in _VERSIONED:
        try:
            out[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            continue
    return out


_VERSIONS: dict[str, str] | None = None


def _versions() -> dict[str, str]:
    global _VERSIONS
    if _VERSIONS is None:
        _VERSIONS = package_versions()
    return _VERSIONS


def _personas(snapshot: dict[str, Any]) -> dict[str, str]:
    members = [*snapshot.get("members", []), snapshot.get("chair", {})]
    return {m["role"]: m.get("persona", "") for m in members if m.get("role")}


async def arun(
    spec: RunSpec,
    *,
    on_event: Callable[[Event], None] | None = None,
    cancel: asyncio.Event | None = None,
    writer: Any = None,
) -> RunResult:
    """Run the council once and write its transcript. Never raises for model or provider faults:
    those are recorded and the result says `failed`. Cancellation writes `interrupted` and re-raises.
    `writer` (anything with `write(event)` and `close()`) replaces the transcript file: batch workers
    that stream events to the process owning the output folder pass one."""
    from agents import telemetry

    if not telemetry.enabled():
        return await _arun(spec, on_event=on_event, cancel=cancel, writer=writer)

    def traced(event: Event) -> None:
        if isinstance(event, RunEnded):
            telemetry.end_run(spec.run_id, event.status, event.reason, event.usage, event.turns)
        if on_event is not None:
            on_event(event)

    with telemetry.run_span(spec):  # the run's OpenTelemetry span (agents/telemetry.py)
        return await _arun(spec, on_event=traced, cancel=cancel, writer=writer)


async def _arun(spec: RunSpec, *, on_event: Callable[[Event], None] | None, cancel: asyncio.Event | None,
                writer: Any = None) -> RunResult:
    path = spec.path
    # The same run again replaces its transcript (batches skip finished runs first), under the
    # transcript's lock: a run id another process is writing is refused (TranscriptBusy), never deleted.
    # A batch worker passes its own `writer` (the driver owns the file and takes the lock when it writes).
    started_at = time.perf_counter()
    if writer is None:
        lock: Any = claim_transcript(path)
        try:
            writer = TranscriptWriter(path, events_before=0)  # claim_transcript emptied it
        except BaseException:
            lock.release()
            raise
    else:
        lock = _NoLock()

    write_failed: list[OutputWriteError] = []

    def record(event: Event) -> Event:
        try:
            writer.write(event)
        except OSError as exc:  # disk full, quota, I/O error: the run cannot be recorded
            write_failed.append(OutputWriteError(path, exc))
            raise write_failed[-1] from None
        if on_event is not None:
            on_event(event)
        return event

    team = spec.team
    try:
        record(RunStarted(
            run_id=spec.run_id, batch=spec.batch, scenario_id=spec.scenario.id, scenario_hash=spec.scenario_hash,
            team_id=team.id, team_hash=spec.team_hash, protocol=team.protocol, disclosure=spec.disclosure_level,
            models=spec.models, judge=team.judge,
            seed=spec.seed, sampling=team.sampling.model_dump(), limits=team.limits.model_dump(),
            versions=_versions(), settings={**spec.settings, "turn_style": team.resolved_turn_style(spec.models)}, scenario=spec.scenario_json, team=spec.team_snapshot,
        ))
    except BaseException:  # e.g. the disk is full: nothing to record the failure in
        writer.discard()
        lock.release()
        raise
    ctx = RunContext(
        scenario=spec.scenario, team=team, personas=_personas(spec.team_snapshot), models=spec.models,
        seed=spec.seed, record=record, scenario_json=spec.scenario_json, scenario_hash=spec.scenario_hash,
        disclosure=spec.disclosure_level,
    )
    state: dict[str, Any] = {}
    status, reason = "failed", ""
    try:
        invoke = council_graph(team.protocol).ainvoke(
            {"round": 1, "turns": [], "revealed": []},
            config={"recursion_limit": recursion_limit(team)},
            context=ctx,
        )
        state = await (_until_cancelled(invoke, cancel) if cancel is not None else invoke)
        status, reason = _outcome(state, record)
    except asyncio.CancelledError:
        status, reason = "interrupted", "cancelled by the user"
        raise
    except KeyboardInterrupt:
        status, reason = "interrupted", "interrupted (Ctrl-C)"
        raise
    except Exception as exc:  # a bug or an unexpected provider failure: record it, keep the batch going
        status, reason = "failed", f"{type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else ''}"
    finally:
        usage = sum(ctx.usage_by_member.values(), Usage())
        turns = len(state.get("turns", [])) if state else _count_turns(path)
        rounds = min(state.get("round", 1), team.rounds_for(team.resolved_turn_style(spec.models))) if state else 0
        duration = time.perf_counter() - started_at
        try:
            record(
                RunEnded(
                    status=status, reason=reason, turns=turns, rounds=rounds, usage=usage,
                    usage_by_member=ctx.usage_by_member, duration_s=round(duration, 4),
                )
            )
        except OutputWriteError:
            pass  # raised below; the transcript ends early, so a rerun redoes this run
        if write_failed:
            writer.discard()
        else:
            writer.close()
        lock.release()
    if write_failed:
        raise write_failed[0]
    return RunResult(spec.run_id, path, status, reason, turns, usage, duration)


async def _until_cancelled(awaitable: Any, cancel: asyncio.Event) -> Any:
    task = asyncio.ensure_future(awaitable)
    waiter = asyncio.ensure_future(cancel.wait())
    done, _ = await asyncio.wait({task, waiter}, return_when=asyncio.FIRST_COMPLETED)
    if task in done:
        waiter.cancel()
        return task.result()
    task.cancel()
    try:
        await task
    except asyncio.CancelledError:
        pass
    raise asyncio.CancelledError


def _outcome(state: dict[str, Any], record: Callable[[Event], Event]) -> tuple[str, str]:
    res = state.get("resolution") or {}
    record(
        ResolutionReached(
            ok=bool(res.get("ok")), resolution=res.get("resolution"), raw=res.get("raw", ""),
            attempts=res.get("attempts", 0), error=res.get("error"), usage=Usage(**res.get("usage", {})),
        )
    )
    if not res.get("ok"):
        return "failed", f"no valid resolution: {res.get('error') or 'the chair did not reply'}"
    if state.get("limit_hit"):
        return "limit_reached", "turn budget (max_turns) spent before the last round"
    return "completed", ""


def _count_turns(path: Path) -> int:
    try:
        return sum(1 for line in path.read_text(encoding="utf-8").splitlines() if '"type":"turn"' in line)
    except OSError:
        return 0


def run_sync(spec: RunSpec, *, on_event: Callable[[Event], None] | None = None) -> RunResult:
    """Blocking run; Ctrl-C leaves a transcript that ends with `interrupted` and re-raises."""
    return asyncio.run(arun(spec, on_event=on_event))
