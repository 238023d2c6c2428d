"""The run index: a SQLite table of every transcript under a folder, rebuilt from the files.

The transcripts are the source of truth; the index is a cache that makes a 10,000-run folder quick
to list, sort, filter and summarise. It lives at `<folder>/.grandrounds-index.sqlite` (or, when the
folder is read-only, in the user's cache directory) and is brought up to date by `refresh()`, which
compares each file's size and modification time with what it recorded, re-reads only the files that
changed and drops rows for files that are gone. A file that cannot be read or parsed still gets a
row (status `corrupt` or `interrupted`, with the problem text); reading never raises.

    index = open_index(Path("runs"))            # refreshes unless refresh=False
    rows = index.query(RunFilter(team="default"), sort="overall", descending=True, limit=50)
    total = index.count(RunFilter(status="failed"))
"""

from __future__ import annotations

import hashlib
import os
import sqlite3
import threading
import time
from dataclasses import asdict, dataclass, field, fields
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from scenarios.model import DIMENSIONS
from transcripts.events import RunStarted, TurnTaken
from transcripts.run_model import main_model
from transcripts.store import Transcript, read_transcript

__all__ = [
    "INDEX_FILENAME",
    "SORT_KEYS",
    "STATUSES",
    "RefreshStats",
    "RunFilter",
    "RunIndex",
    "RunRow",
    "TeamSummary",
    "open_index",
    "summarise_transcript",
]

INDEX_FILENAME = ".grandrounds-index.sqlite"
SCHEMA_VERSION = 1
STATUSES: tuple[str, ...] = ("completed", "failed", "interrupted", "limit_reached", "corrupt")

ProgressCallback = Callable[[int, int], None]


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


# -- the index ---------------------------------------------------------------------------------------


def _walk(folder: Path) -> Iterator[tuple[str, int, int]]:
    """(relative posix path, size, mtime_ns) of every *.jsonl under folder, skipping hidden folders."""
    stack = [folder]
    while stack:
        current = stack.pop()
        try:
            entries = list(os.scandir(current))
        except OSError:
            continue
        for entry in entries:
            if entry.name.startswith("."):
                continue
            try:
                if entry.is_dir(follow_symlinks=False):
                    stack.append(Path(entry.path))
                elif entry.name.endswith(".jsonl") and entry.is_file():
                    st = entry.stat()
                    rel = Path(entry.path).relative_to(folder).as_posix()
                    yield rel, st.st_size, st.st_mtime_ns
            except OSError:
                continue


def _default_db_path(folder: Path) -> Path:
    return folder / INDEX_FILENAME


def _fallback_db_path(folder: Path) -> Path:
    cache = Path(os.environ.get("XDG_CACHE_HOME") or Path.home() / ".cache") / "grandrounds"
    digest = hashlib.sha256(str(folder.resolve()).encode()).hexdigest()[:16]
    return cache / f"index-{digest}.sqlite"


class RunIndex:
    """The index of one folder. Safe to use from several threads (one connection per thread)."""

    def __init__(self, folder: Path, db_path: Path | None = None) -> None:
        self.folder = Path(folder)
        self.db_path = db_path or self._choose_db_path()
        self._writer: sqlite3.Connection | None = None
        self._reader: sqlite3.Connection | None = None
        self._write_lock = threading.RLock()
        self._read_lock = threading.Lock()
        self._ensure_schema()

    # connections ------------------------------------------------------------------------------
    def _choose_db_path(self) -> Path:
        primary = _default_db_path(self.folder)
        if os.access(self.folder, os.W_OK) or (primary.exists() and os.access(primary, os.W_OK)):
            return primary
        fallback = _fallback_db_path(self.folder)
        fallback.parent.mkdir(parents=True, exist_ok=True)
        return fallback

    def _connect(self) -> sqlite3.Connection:
        conn = sqlite3.connect(self.db_path, timeout=30, check_same_thread=False)
        conn.execute("PRAGMA journal_mode=WAL")
        conn.execute("PRAGMA synchronous=NORMAL")
        return conn

    def _conn(self) -> sqlite3.Connection:
        """The writer connection (used under `_write_lock`)."""
        if self._writer is None:
            self._writer = self._connect()
        return self._writer

    def _read(self, sql: str, params: Iterable[Any] = ()) -> list[tuple[Any, ...]]:
        """Run a query on the reader connection; WAL lets it read while a refresh writes."""
        with self._read_lock:
            if self._reader is None:
                self._reader = self._connect()
            return self._reader.execute(sql, list(params)).fetchall()

    def close(self) -> None:
        with self._read_lock:
            if self._reader is not None:
                self._reader.close()
                self._reader = None
        with self._write_lock:
            if self._writer is not None:
                self._writer.close()
                self._writer = None

    def _ensure_schema(self) -> None:
        try:
            conn = self._conn()
            version = conn.execute("PRAGMA user_version").fetchone()[0]
            if version != SCHEMA_VERSION:
                self._create(conn)
        except sqlite3.DatabaseError:
            # Not a database (or an unreadable one): it is only a cache, so start again.
            if self._writer is not None:
                self._writer.close()
                self._writer = None
            for suffix in ("", "-wal", "-shm"):
                Path(str(self.db_path) + suffix).unlink(missing_ok=True)
            self._create(self._conn())

    @staticmethod
    def _create(conn: sqlite3.Connection) -> None:
        cols = ", ".join(f"{c} {_COLUMN_TYPES.get(c, 'TEXT')}" for c in _COLUMNS)
        with conn:
            conn.execute("DROP TABLE IF EXISTS runs")
            conn.execute(f"CREATE TABLE runs ({cols})")
            for column in ("started", "scenario_id", "team_id", "model", "status", "overall", "batch"):
                conn.execute(f"CREATE INDEX IF NOT EXISTS runs_{column} ON runs({column})")
            conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")

    # refresh ----------------------------------------------------------------------------------
    def refresh(self, progress: ProgressCallback | None = None) -> RefreshStats:
        """Bring the index up to date with the files: re-read changed files, drop deleted ones."""
        t0 = time.perf_counter()
        stats = RefreshStats()
        with self._write_lock:
            conn = self._conn()
            known = {p: (s, m) for p, s, m in conn.execute("SELECT path, size, mtime_ns FROM runs")}
            on_disk = {rel: (size, mtime) for rel, size, mtime in _walk(self.folder)}
            stats.total = len(on_disk)
            changed = [rel for rel, sig in on_disk.items() if known.get(rel) != sig]
            removed = [rel for rel in known if rel not in on_disk]
            stats.unchanged = stats.total - len(changed)
            if progress:
                progress(0, len(changed))
            placeholders = ", ".join("?" for _ in _COLUMNS)
            insert = f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
            batch: list[tuple[Any, ...]] = []
            for done, rel in enumerate(changed, start=1):
                size, mtime = on_disk[rel]
                row = _read_row(self.folder, rel, size, mtime)
                batch.append(tuple(_to_sql(getattr(row, c)) for c in _COLUMNS))
                if rel in known:
                    stats.updated += 1
                else:
                    stats.added += 1
                if len(batch) >= 500:
                    with conn:
                        conn.executemany(insert, batch)
                    batch.clear()
                if progress and (done % 100 == 0 or done == len(changed)):
                    progress(done, len(changed))
            with conn:
                if batch:
                    conn.executemany(insert, batch)
                for start in range(0, len(removed), 500):
                    chunk = removed[start : start + 500]
                    conn.execute(f"DELETE FROM runs WHERE path IN ({', '.join('?' for _ in chunk)})", chunk)
            stats.removed = len(removed)
        stats.seconds = time.perf_counter() - t0
        return stats

    def refresh_paths(self, paths: Iterable[Path]) -> None:
        """Re-read a few known files now (e.g. after a run or a score was written)."""
        with self._write_lock:
            conn = self._conn()
            placeholders = ", ".join("?" for _ in _COLUMNS)
            insert = f"INSERT OR REPLACE INTO runs ({', '.join(_COLUMNS)}) VALUES ({placeholders})"
            with conn:
                for path in paths:
                    path = Path(path)
                    try:
                        rel = path.resolve().relative_to(self.folder.resolve()).as_posix()
                        st = path.stat()
                    except (ValueError, OSError):
                        continue
                    row = _read_row(self.folder, rel, st.st_size, st.st_mtime_ns)
                    conn.execute(insert, tuple(_to_sql(getattr(row, c)) for c in _COLUMNS))

    # queries ----------------------------------------------------------------------------------
    def query(
        self,
        filters: RunFilter | None = None,
        sort: str = "started",
        descending: bool = True,
        limit: int | None = 200,
        offset: int = 0,
    ) -> list[RunRow]:
        """Rows matching `filters`, sorted by a key of SORT_KEYS (unknown keys raise ValueError)."""
        if sort not in SORT_KEYS:
            raise ValueError(f"unknown sort key {sort!r}; use one of {', '.join(SORT_KEYS)}")
        where, params = (filters or RunFilter()).where()
        direction = "DESC" if descending else "ASC"
        order = f"{SORT_KEYS[sort]} {direction} NULLS LAST, path ASC"
        sql = f"SELECT {', '.join(_COLUMNS)} FROM runs{where} ORDER BY {order}"
        if limit is not None:
            sql += " LIMIT ? OFFSET ?"
            params = [*params, int(limit), int(offset)]
        return [_row(values) for values in self._read(sql, params)]

    def count(self, filters: RunFilter | None = None) -> int:
        where, params = (filters or RunFilter()).where()
        return int(self._read(f"SELECT COUNT(*) FROM runs{where}", params)[0][0])

    def get(self, rel_path: str) -> RunRow | None:
        found = self._read(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE path = ?", [rel_path])
        return _row(found[0]) if found else None

    def find_run(self, run_id: str) -> RunRow | None:
        found = self._read(f"SELECT {', '.join(_COLUMNS)} FROM runs WHERE run_id = ? ORDER BY started DESC LIMIT 1", [run_id])
        return _row(found[0]) if found else None

    def distinct(self, column: str, filters: RunFilter | None = None) -> list[str]:
        """Distinct values of a sort key's column (e.g. 'team'), for filter pickers."""
        if column not in SORT_KEYS:
            raise ValueError(f"unknown column {column!r}")
        sql_col = SORT_KEYS[column]
        where, params = (filters or RunFilter()).where()
        sql = f"SELECT DISTINCT {sql_col} FROM runs{where} ORDER BY {sql_col}"
        return [v for (v,) in self._read(sql, params) if v not in (None, "")]

    def summary(self, group_by: str = "team", filters: RunFilter | None = None) -> list[TeamSummary]:
        """Mean overall and per-dimension score per group (team, model, scenario, batch...)."""
        if group_by not in SORT_KEYS:
            raise ValueError(f"unknown column {group_by!r}")
        key = SORT_KEYS[group_by]
        where, params = (filters or RunFilter()).where()
        dims = ", ".join(f"AVG({d})" for d in DIMENSIONS)
        sql = f"SELECT {key}, COUNT(*), SUM(scored), AVG(overall), {dims} FROM runs{where} GROUP BY {key} ORDER BY {key}"
        out = []
        for values in self._read(sql, params):
            out.append(
                TeamSummary(
                    key=values[0] or "",
                    runs=int(values[1]),
                    scored=int(values[2] or 0),
                    overall=values[3],
                    dimensions=dict(zip(DIMENSIONS, values[4:])),
                )
            )
        return out


def _to_sql(value: Any) -> Any:
    if isinstance(value, bool):
        return int(value)
    return value


def _row(values: tuple[Any, ...]) -> RunRow:
    data = dict(zip(_COLUMNS, values))
    data["scored"] = bool(data["scored"])
    for key in ("run_id", "batch", "scenario_id", "scenario_title", "team_id", "model", "protocol", "started", "status", "problems"):
        if data[key] is None:
            data[key] = ""
    return RunRow(**data)


def open_index(folder: Path, *, refresh: bool = True, progress: ProgressCallback | None = None) -> RunIndex:
    """Open (creating if missing) the index of `folder`; refresh it from the files unless told not to.

    Pass refresh=False to query what is recorded right away (a UI paints first, then refreshes).
    """
    folder = Path(folder)
    if not folder.is_dir():
        raise FileNotFoundError(f"{folder}: not a folder")
    index = RunIndex(folder)
    if refresh:
        index.refresh(progress)
    return index
