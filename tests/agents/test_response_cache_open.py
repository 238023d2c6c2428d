"""The response cache survives a busy new file and says when a reply was not stored (agents/cache.py)."""

import sqlite3

from agents import cache as cache_module
from agents.cache import CachedReply, ResponseCache


def test_opening_a_file_another_worker_has_locked_is_retried(tmp_path, monkeypatch):
    calls = {"n": 0}
    real_open = ResponseCache._open

    def flaky_open(self):
        calls["n"] += 1
        if calls["n"] < 3:  # as when two workers switch a new file to WAL at once
            raise sqlite3.OperationalError("database is locked")
        real_open(self)

    monkeypatch.setattr(ResponseCache, "_open", flaky_open)
    monkeypatch.setattr(cache_module.time, "sleep", lambda s: None)
    c = ResponseCache(tmp_path / "c.sqlite")
    assert calls["n"] == 3 and c.error is None
    c.put("k", CachedReply(text="{}", prompt_tokens=1, completion_tokens=1, model="m"))
    assert c.stored == 1 and c.get("k") is not None
    c.close()


def test_a_reply_that_cannot_be_stored_is_reported(tmp_path):
    c = ResponseCache(tmp_path / "c.sqlite")
    c._db.execute("DROP TABLE replies")  # any write now fails
    c.put("k", CachedReply(text="{}", prompt_tokens=1, completion_tokens=1, model="m"))
    assert c.stored == 0 and "not stored" in (c.error or "")
    c.close()
