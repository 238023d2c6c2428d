"""A batch's state: what each transcript on disk says, live progress, the summary, and the manifest
(`<out>/batch.json`), plus the folder lock that keeps one batch per folder."""

from __future__ import annotations

import json
import os
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from agents.batch.plan import BatchError, BatchPlan
from transcripts.events import RunEnded, Usage

MANIFEST_FILENAME = "batch.json"
LOCK_FILENAME = ".batch.lock"
WRITE_FAILURE = "write failure"  # prefix of BatchSummary.stopped when a transcript could not be written


@dataclass
class TranscriptState:
    """What the end of a transcript says, read without parsing every event."""

    exists: bool
    status: str | None = None  # run_ended status, None when the run never ended
    reason: str = ""
    usage: Usage = field(default_factory=Usage)
    usage_by_member: dict[str, Usage] = field(default_factory=dict)
    judge_usage: Usage = field(default_factory=Usage)
    scores: int = 0


_TAIL_BYTES = 64 * 1024  # a run_ended line and the score lines after it fit in a few kB


def transcript_state(path: Path) -> TranscriptState:
    """The last `run_ended` of a transcript and its judge spend (score events); never raises.
    Reads the end of the file (a resume or the accounting of a 100,000-run batch would otherwise read
    every transcript whole); the whole file only when its end holds no `run_ended`."""
    try:
        with open(path, "rb") as fh:
            size = os.fstat(fh.fileno()).st_size
            if size > _TAIL_BYTES:
                fh.seek(size - _TAIL_BYTES)
            tail = fh.read()
    except OSError:
        return TranscriptState(exists=False)
    whole = size <= _TAIL_BYTES
    state = _state_of(tail if whole else tail.split(b"\n", 1)[-1])  # the window's first line may be cut
    if state.status is None and not whole:
        try:
            state = _state_of(Path(path).read_bytes())
        except OSError:
            return TranscriptState(exists=False)
    return state


def _state_of(data: bytes) -> TranscriptState:
    state = TranscriptState(exists=True)
    for raw in reversed(data.split(b"\n")):
        if b'"type":"score"' in raw:
            try:
                usage = json.loads(raw).get("usage") or {}
            except ValueError:
                continue
            state.scores += 1
            state.judge_usage = state.judge_usage + Usage(**usage)
        elif b'"type":"run_ended"' in raw:
            try:
                ended = RunEnded.model_validate_json(raw)
            except ValueError:
                continue  # a cut-off last line: the run did not end cleanly
            state.status, state.reason = ended.status, ended.reason
            state.usage, state.usage_by_member = ended.usage, ended.usage_by_member
            break
    return state


# -- progress and the summary -----------------------------------------------------------------------


@dataclass
class BatchProgress:
    """Live counters, updated as runs start and end (one object, mutated; read it, don't keep copies)."""

    total: int = 0
    skipped: int = 0
    started: int = 0
    running: int = 0
    completed: int = 0
    limit_reached: int = 0
    failed: int = 0
    interrupted: int = 0
    prompt_tokens: int = 0
    completion_tokens: int = 0
    cost_usd: float = 0.0
    phase: str = "running"  # running | scoring | done
    scored: int = 0
    to_score: int = 0

    @property
    def finished(self) -> int:
        return self.completed + self.limit_reached + self.failed

    @property
    def done(self) -> int:
        """Runs accounted for: skipped, finished now, or interrupted."""
        return self.skipped + self.finished + self.interrupted

    @property
    def tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens


@dataclass
class RunOutcome:
    run_id: str
    path: Path
    scenario_id: str
    team_id: str
    model: str | None
    seed: int
    status: str  # completed | limit_reached | failed | interrupted | not_started
    reason: str = ""
    skipped: bool = False
    duration_s: float = 0.0

    def to_json(self, base: Path) -> dict[str, Any]:
        try:
            rel = str(self.path.relative_to(base))
        except ValueError:
            rel = str(self.path)
        return {
            "run_id": self.run_id, "path": rel, "scenario": self.scenario_id, "team": self.team_id,
            "model": self.model, "seed": self.seed, "status": self.status, "skipped": self.skipped,
            "reason": self.reason, "duration_s": round(self.duration_s, 3),
        }


def _usage_json(usage: Usage) -> dict[str, Any]:
    return {
        "prompt_tokens": usage.prompt_tokens,
        "completion_tokens": usage.completion_tokens,
        "tokens": usage.prompt_tokens + usage.completion_tokens,
        "cost_usd": round(usage.cost_usd, 6),
    }


@dataclass
class BatchSummary:
    plan: BatchPlan
    progress: BatchProgress
    outcomes: list[RunOutcome]
    wall_s: float = 0.0
    interrupted: bool = False
    stopped: str | None = None  # why launching stopped early (failure threshold), if it did
    not_started: int = 0
    run_usage: Usage = field(default_factory=Usage)  # every run of the plan on disk (this and earlier invocations)
    judge_usage: Usage = field(default_factory=Usage)
    by_team: dict[str, dict[str, Any]] = field(default_factory=dict)
    spent_now: Usage = field(default_factory=Usage)  # model calls made by this invocation (runs only)
    cache: dict[str, Any] | None = None
    limits: dict[str, Any] | None = None  # per limit key: the limit, peak in flight, calls, 429s, waiting
    executor: dict[str, Any] | None = None  # where the runs ran, when not on this event loop
    scored: int = 0
    score_errors: list[str] = field(default_factory=list)
    repaired: list[str] = field(default_factory=list)  # transcripts whose cut-off last line was repaired
    manifest_path: Path | None = None
    manifest_error: str | None = None  # batch.json could not be written (e.g. the disk is full)

    @property
    def write_failed(self) -> bool:
        """Launching stopped because a transcript could not be written."""
        return bool(self.stopped and self.stopped.startswith(WRITE_FAILURE))

    @property
    def counts(self) -> dict[str, int]:
        p = self.progress
        return {
            "planned": p.total, "skipped": p.skipped, "completed": p.completed, "limit_reached": p.limit_reached,
            "failed": p.failed, "interrupted": p.interrupted, "not_started": self.not_started, "scored": self.scored,
        }

    @property
    def exit_code(self) -> int:
        """0 all good; 130 interrupted; 3 stopped by the failure threshold; 4 output not writable."""
        if self.interrupted:
            return 130
        if self.write_failed or self.manifest_error:
            return 4
        if self.stopped:
            return 3
        return 0

    def manifest(self, command: Sequence[str] | None = None, concurrency: int | None = None) -> dict[str, Any]:
        total_cost = self.run_usage.cost_usd + self.judge_usage.cost_usd
        return {
            "kind": "grandrounds-batch",
            "version": 1,
            "command": list(command) if command else None,
            "written": time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime()),
            "plan": {**self.plan.describe(), "concurrency": concurrency},
            "counts": self.counts,
            "interrupted": self.interrupted,
            "stopped": self.stopped,
            "wall_s": round(self.wall_s, 3),
            "this_invocation": _usage_json(self.spent_now),
            "totals": {
                "runs": _usage_json(self.run_usage),
                "judge": _usage_json(self.judge_usage),
                "cost_usd": round(total_cost, 6),
            },
            "by_team": self.by_team,
            "cache": self.cache,
            "limits": self.limits,
            "executor": self.executor or {"kind": "local", "workers": 1},
            "score_errors": self.score_errors,
            "repaired": self.repaired,
            "runs": [o.to_json(self.plan.out_dir) for o in self.outcomes],
        }


# -- one batch per folder ---------------------------------------------------------------------------


class _FolderLock:
    """One batch at a time per folder (an advisory lock; gone when the process dies)."""

    def __init__(self, folder: Path) -> None:
        self.path = folder / LOCK_FILENAME
        self._fh: Any = None

    def __enter__(self) -> _FolderLock:
        try:
            import fcntl
        except ImportError:  # pragma: no cover - not POSIX: no lock
            return self
        self._fh = open(self.path, "a+")
        try:
            fcntl.flock(self._fh.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            self._fh.close()
            self._fh = None
            raise BatchError(f"another batch is running in {self.path.parent}; wait for it or use another --out") from None
        return self

    def __exit__(self, *exc: object) -> None:
        if self._fh is not None:
            self._fh.close()
            self._fh = None


# -- totals and the manifest ------------------------------------------------------------------------


def _account(plan: BatchPlan, summary: BatchSummary) -> None:
    """Totals over every transcript of the plan on disk: per run, per team, per member; judge apart."""
    run_total, judge_total = Usage(), Usage()
    by_team: dict[str, dict[str, Any]] = {}
    for spec in plan.runs:
        state = transcript_state(spec.path)
        if not state.exists:
            continue
        team = by_team.setdefault(spec.team.id, {"runs": 0, "usage": Usage(), "judge": Usage(), "by_member": {}})
        team["runs"] += 1
        team["usage"] = team["usage"] + state.usage
        team["judge"] = team["judge"] + state.judge_usage
        for member, usage in state.usage_by_member.items():
            team["by_member"][member] = team["by_member"].get(member, Usage()) + usage
        run_total = run_total + state.usage
        judge_total = judge_total + state.judge_usage
    summary.run_usage, summary.judge_usage = run_total, judge_total
    summary.by_team = {
        team: {
            "runs": data["runs"],
            "usage": _usage_json(data["usage"]),
            "judge": _usage_json(data["judge"]),
            "cost_per_run_usd": round(data["usage"].cost_usd / data["runs"], 6) if data["runs"] else 0.0,
            "by_member": {m: _usage_json(u) for m, u in sorted(data["by_member"].items())},
        }
        for team, data in by_team.items()
    }


def write_batch_manifest(summary: BatchSummary, command: Sequence[str] | None, concurrency: int | None) -> Path:
    """Write `<out>/batch.json` atomically, keeping a short history of earlier invocations."""
    path = summary.plan.out_dir / MANIFEST_FILENAME
    data = summary.manifest(command, concurrency)
    history: list[dict[str, Any]] = []
    try:
        previous = json.loads(path.read_text(encoding="utf-8"))
        history = list(previous.get("history") or [])
        history.append({k: previous.get(k) for k in ("written", "command", "counts", "wall_s", "interrupted", "stopped", "this_invocation")})
    except (OSError, ValueError, AttributeError):
        pass
    data["history"] = history[-50:]
    tmp = path.with_suffix(".json.tmp")
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n", encoding="utf-8")
    os.replace(tmp, path)
    return path
