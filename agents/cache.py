"""The response cache: model replies on disk, keyed by the full request, for free reproducible re-runs.

`grandrounds batch --cache` opens one in the output folder (`.response-cache.sqlite`) and hands it to
the gateway (`agents.gateway.use_response_cache`). The key is sha256 of the canonical JSON of
everything that shapes a reply: model, messages, JSON schema, kind, temperature, max_tokens, top_p
and seed (and, for the scripted model, which builds its reply from it, the call's context). A hit
returns the stored text with the stored token counts, `cached=True` and cost 0, and makes no provider
call. Only replies the provider actually gave are stored (failures are not); whether a reply
validated is the caller's business, so a re-run sees exactly what the first run saw.

SQLite rather than JSONL so that a recursive `*.jsonl` scan of a runs folder never mistakes it for a
transcript; deleting the file is always safe.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
import threading
import time
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any
from transcripts.redaction import redact_secrets

if TYPE_CHECKING:  # pragma: no cover
    from agents.gateway import ModelCall

__all__ = ["CACHE_FILENAME", "CachedReply", "ResponseCache", "request_key"]

CACHE_FILENAME = ".response-cache.sqlite"


@dataclass
class CachedReply:
    text: str
    prompt_tokens: int
    completion_tokens: int
    model: str


def request_key(call: ModelCall) -> str:
    """sha256 of what makes the reply: the request as sent (plus the scripted model's context)."""
    request: dict[str, Any] = {
        "model": call.model,
        "messages": call.messages,
        "schema": call.schema,
        "kind": call.kind,
        "temperature": call.temperature,
        "max_tokens": call.max_tokens,
        "top_p": call.top_p,
        "seed": call.seed,
    }
    if call.model.startswith("scripted/"):
        request["context"] = call.context
    blob = json.dumps(request, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str)
    return hashlib.sha256(blob.encode("utf-8")).hexdigest()


OPEN_ATTEMPTS = 20


class ResponseCache:
    """key -> reply. Counts hits and misses; tolerant of an unusable file (then it caches nothing)."""

    def __init__(self, path: Path) -> None:
        self.path = Path(path)
        self.hits = 0
        self.misses = 0
        self.stored = 0
        self.error: str | None = None
        self._lock = threading.Lock()
        self._db: sqlite3.Connection | None = None
        # Several worker processes open the same new file at once: switching it to WAL can fail with
        # "database is locked" without waiting for the busy timeout, so opening is retried briefly.
        for attempt in range(OPEN_ATTEMPTS):
            try:
                self._open()
                self.error = None
                break
            except sqlite3.OperationalError as exc:
                self._close_quietly()
                self.error = f"response cache {self.path} unusable ({exc}); running without it"
                if "locked" not in str(exc) and "busy" not in str(exc):
                    break
                time.sleep(0.05 * (attempt + 1))
            except sqlite3.Error as exc:
                self._close_quietly()
                self.error = f"response cache {self.path} unusable ({exc}); running without it"
                break

    def _open(self) -> None:
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._db = sqlite3.connect(self.path, timeout=10, check_same_thread=False)
        self._db.execute("PRAGMA journal_mode=WAL")
        self._db.execute("PRAGMA synchronous=NORMAL")
        self._db.execute(
            "CREATE TABLE IF NOT EXISTS replies (key TEXT PRIMARY KEY, model TEXT, text TEXT, "
            "prompt_tokens INTEGER, completion_tokens INTEGER)"
        )
        self._db.commit()

    def _close_quietly(self) -> None:
        if self._db is not None:
            try:
                self._db.close()
            except sqlite3.Error:
                pass
        self._db = None

    def get(self, key: str) -> CachedReply | None:
        if self._db is None:
            return None
        with self._lock:
            try:
                row = self._db.execute(
                    "SELECT text, prompt_tokens, completion_tokens, model FROM replies WHERE key = ?", (key,)
                ).fetchone()
            except sqlite3.Error:
                row = None
            if row is None:
                self.misses += 1
                return None
            self.hits += 1
        return CachedReply(text=row[0], prompt_tokens=int(row[1] or 0), completion_tokens=int(row[2] or 0), model=row[3] or "")

    def put(self, key: str, reply: CachedReply) -> None:
        if self._db is None:
            return
        with self._lock:
            try:
                self._db.execute(
                    "INSERT OR REPLACE INTO replies (key, model, text, prompt_tokens, completion_tokens) VALUES (?, ?, ?, ?, ?)",
                    (key, reply.model, redact_secrets(reply.text), reply.prompt_tokens, reply.completion_tokens),
                )
                self._db.commit()
                self.stored += 1
            except sqlite3.Error as exc:  # the run goes on uncached; the batch summary says why
                self.error = self.error or f"response cache {self.path}: a reply was not stored ({exc})"

    def __len__(self) -> int:
        if self._db is None:
            return 0
        with self._lock:
            return int(self._db.execute("SELECT COUNT(*) FROM replies").fetchone()[0])

    def close(self) -> None:
        if self._db is not None:
            self._db.close()
            self._db = None
