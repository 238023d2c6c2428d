"""A small on-disk cache of judge replies, keyed by content, so re-scoring costs nothing.

Where: `$GRANDROUNDS_JUDGE_CACHE` if set, else `.judge-cache.sqlite` in the transcript's folder
(a batch folder under runs/), so the cache travels with the runs it graded. It is SQLite, not
JSONL, so that a recursive `*.jsonl` scan never mistakes it for a transcript. Only replies that
parsed are stored; deleting the file is always safe.
"""

from __future__ import annotations

import hashlib
import json
import os
import sqlite3
import threading
from pathlib import Path
from transcripts.redaction import redact_secrets

CACHE_FILENAME = ".judge-cache.sqlite"
CACHE_ENV = "GRANDROUNDS_JUDGE_CACHE"


def cache_key(model: str, prompt: str, sample: int, temperature: float) -> str:
    blob = json.dumps([model, prompt, sample, temperature], ensure_ascii=False)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


def default_cache_path(transcript_path: Path) -> Path:
    env = os.environ.get(CACHE_ENV)
    return Path(env) if env else Path(transcript_path).parent / CACHE_FILENAME


class JudgeCache:
    """key -> (reply text, usage JSON). Safe to share between threads; tolerant of a broken file."""

    def __init__(self, path: Path | None) -> None:
        self.path = Path(path) if path is not None else None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        self.error: str | None = None
        if self.path is not None:
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
                self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
                self._db.execute("CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, text TEXT, usage TEXT)")
                self._db.commit()
            except sqlite3.Error as exc:  # unwritable folder, corrupt file: grade without a cache
                self.error = f"judge cache {self.path} unusable ({exc}); grading without it"
                self._db = None

    def get(self, key: str) -> tuple[str, dict] | None:
        if self._db is None:
            return None
        with self._lock:
            try:
                row = self._db.execute("SELECT text, usage FROM replies WHERE key = ?", (key,)).fetchone()
            except sqlite3.Error:
                return None
        if row is None:
            return None
        try:
            return row[0], json.loads(row[1] or "{}")
        except ValueError:
            return None

    def put(self, key: str, model: str, text: str, usage: dict) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO replies (key, model, text, usage) VALUES (?, ?, ?, ?)",
                    (key, model, redact_secrets(text), json.dumps(usage)),
                )
                self._db.commit()
            except sqlite3.Error:
                pass

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
