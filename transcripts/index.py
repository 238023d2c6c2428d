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
from pathlib import Path
from typing import Any, Callable, Iterable, Iterator

from scenarios.model import DIMENSIONS
from transcripts.index_rows import (  # noqa: F401  (re-exported: the rows live in index_rows)
    _COLUMN_TYPES,
    _COLUMNS,
    SORT_KEYS,
    STATUSES,
    RefreshStats,
    RunFilter,
    RunRow,
    TeamSummary,
    _read_row,
    summarise_transcript,
)

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

ProgressCallback = Callable[[int, int], None]


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
