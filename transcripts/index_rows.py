"""What the run index stores: one row per transcript (`RunRow`, read by `summarise_transcript`,
which never raises), the filters it answers (`RunFilter`) and its summaries (see transcripts.index)."""

from __future__ import annotations

from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any

from scenarios.model import DIMENSIONS
from transcripts.events import RunStarted, TurnTaken
from transcripts.run_model import main_model
from transcripts.store import Transcript, read_transcript

STATUSES: tuple[str, ...] = ("completed", "failed", "interrupted", "limit_reached", "corrupt")


@dataclass
class RunRow:
    """One transcript as the index knows it. Scores are None when unscored or not assessed."""

    path: str  # relative to the indexed folder, with forward slashes
    run_id: str = ""
    batch: str = ""
    scenario_id: str = ""
    scenario_title: str = ""
    team_id: str = ""
    model: str = ""
    protocol: str = ""
    seed: int | None = None
    started: str = ""
    status: str = "corrupt"
    overall: float | None = None
    truthfulness: float | None = None
    safety: float | None = None
    interpretability: float | None = None
    fairness: float | None = None
    privacy: float | None = None
    accountability: float | None = None
    scored: bool = False
    turns: int = 0
    tokens: int = 0
    cost: float = 0.0
    problems: str = ""
    size: int = 0
    mtime_ns: int = 0

    def dimension_scores(self) -> dict[str, float | None]:
        return {d: getattr(self, d) for d in DIMENSIONS}

    def full_path(self, folder: Path) -> Path:
        return Path(folder) / self.path


_COLUMNS: tuple[str, ...] = tuple(f.name for f in fields(RunRow))
_COLUMN_TYPES: dict[str, str] = {
    "path": "TEXT PRIMARY KEY",
    "seed": "INTEGER",
    "overall": "REAL",
    **{d: "REAL" for d in DIMENSIONS},
    "scored": "INTEGER NOT NULL DEFAULT 0",
    "turns": "INTEGER NOT NULL DEFAULT 0",
    "tokens": "INTEGER NOT NULL DEFAULT 0",
    "cost": "REAL NOT NULL DEFAULT 0",
    "size": "INTEGER NOT NULL",
    "mtime_ns": "INTEGER NOT NULL",
}

# Public sort keys -> SQL expression. Everything else is refused (sort keys may come from a UI).
SORT_KEYS: dict[str, str] = {
    "started": "started",
    "scenario": "scenario_id",
    "title": "scenario_title",
    "team": "team_id",
    "model": "model",
    "status": "status",
    "overall": "overall",
    "turns": "turns",
    "tokens": "tokens",
    "cost": "cost",
    "run_id": "run_id",
    "batch": "batch",
    "path": "path",
    **{d: d for d in DIMENSIONS},
}


@dataclass
class RunFilter:
    """Exact-match filters (None = any) and a free-text search over ids, titles, models and problems."""

    scenario: str | None = None
    team: str | None = None
    model: str | None = None
    status: str | None = None
    batch: str | None = None
    text: str | None = None

    def where(self) -> tuple[str, list[Any]]:
        clauses: list[str] = []
        params: list[Any] = []
        for attr, column in (
            ("scenario", "scenario_id"),
            ("team", "team_id"),
            ("model", "model"),
            ("status", "status"),
            ("batch", "batch"),
        ):
            value = getattr(self, attr)
            if value is not None and value != "":
                clauses.append(f"{column} = ?")
                params.append(value)
        if self.text and self.text.strip():
            for word in self.text.split():
                like = "%" + word.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"
                searched = ("run_id", "scenario_id", "scenario_title", "team_id", "model", "status", "batch", "problems")
                clauses.append("(" + " OR ".join(f"{c} LIKE ? ESCAPE '\\'" for c in searched) + ")")
                params.extend([like] * len(searched))
        return (" WHERE " + " AND ".join(clauses)) if clauses else "", params

    def is_empty(self) -> bool:
        return not any(v for v in asdict(self).values())


@dataclass
class RefreshStats:
    total: int = 0
    added: int = 0
    updated: int = 0
    removed: int = 0
    unchanged: int = 0
    seconds: float = 0.0

    @property
    def changed(self) -> bool:
        return bool(self.added or self.updated or self.removed)


@dataclass
class TeamSummary:
    """Means over scored runs of one group (a team by default)."""

    key: str
    runs: int
    scored: int
    overall: float | None
    dimensions: dict[str, float | None] = field(default_factory=dict)


# -- reading one transcript ------------------------------------------------------------------------


def _main_model(started: RunStarted) -> str:
    return main_model(started)


def _short_problem(problem: str, path: Path) -> str:
    return problem.replace(str(path), path.name)


def summarise_transcript(transcript: Transcript, rel_path: str = "") -> RunRow:
    """What the index stores for one transcript; never raises."""
    path = transcript.path
    row = RunRow(path=rel_path or path.name)
    problems = [_short_problem(p, path) for p in transcript.problems]
    started = transcript.started
    row.status = transcript.status
    if started is None:
        row.run_id = path.stem
        row.status = "corrupt"
        if not problems:
            problems.append(f"{path.name}: no run_started event")
    else:
        row.run_id = started.run_id
        row.batch = started.batch
        row.scenario_id = started.scenario_id
        title = started.scenario.get("title") if isinstance(started.scenario, dict) else None
        row.scenario_title = title if isinstance(title, str) else ""
        row.team_id = started.team_id
        row.model = _main_model(started)
        row.protocol = started.protocol
        row.seed = started.seed
        row.started = started.ts
    turns = [e for e in transcript.events if isinstance(e, TurnTaken)]
    row.turns = len(turns)
    ended = transcript.ended
    if ended is not None:
        usage = ended.usage
        row.tokens = usage.prompt_tokens + usage.completion_tokens
        row.cost = usage.cost_usd
        if ended.status != "completed" and ended.reason:
            problems.append(f"{ended.status}: {ended.reason}")
    else:
        for event in transcript.events:  # no totals recorded: add up what was spent so far
            usage = getattr(event, "usage", None)
            if usage is not None and event.type != "score":
                row.tokens += usage.prompt_tokens + usage.completion_tokens
                row.cost += usage.cost_usd
        if started is not None and not transcript.truncated:
            problems.append("the run has no run_ended event (interrupted or still running)")
    score = transcript.latest_score()
    if score is not None:
        card = score.scorecard
        row.scored = True
        row.overall = _number(card.overall) if card is not None else None
        for dim in DIMENSIONS:
            entry = card.dimensions.get(dim) if card is not None else None
            setattr(row, dim, _number(entry.score if entry is not None else None))
    row.problems = "; ".join(problems)
    return row


def _number(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, (int, float)):
        return None
    return float(value)


def _read_row(folder: Path, rel: str, size: int, mtime_ns: int) -> RunRow:
    path = folder / rel
    try:
        row = summarise_transcript(read_transcript(path), rel)
    except Exception as exc:  # a reader bug must not stop indexing a 10,000-file folder
        row = RunRow(path=rel, run_id=Path(rel).stem, status="corrupt", problems=f"{Path(rel).name}: cannot index: {exc}")
    row.size = size
    row.mtime_ns = mtime_ns
    return row
