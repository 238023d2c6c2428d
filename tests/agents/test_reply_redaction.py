"""Issue 10.3: a provider or proxy that echoes the bearer key in a 200 reply leaves no copy on disk."""

from __future__ import annotations

import sqlite3
from collections.abc import Iterator
from pathlib import Path

import pytest

from agents import gateway
from agents.batch import plan_batch, run_batch
from openai_stub import StubServer
from transcripts.store import TranscriptWriter, read_transcript
from transcripts.events import RunEnded

KEY = "grk-LiveSecret-0123456789abcdef"  # matches no key pattern: only the env-var value gives it away
CASE = "insulin-error-disclosure"
TEAM = """\
id: leaky
model: openai/stub
protocol: round_robin
members:
  - {role: diagnostician, prompt: diagnostician}
  - {role: safety_critic, prompt: safety_critic}
chair: {role: chair, prompt: chair}
limits: {max_rounds: 1, max_turns: 4, timeout_s: 5, retries: 0}
sampling: {temperature: 0.0, max_tokens: 300}
"""


@pytest.fixture
def leaky(monkeypatch: pytest.MonkeyPatch) -> Iterator[StubServer]:
    with StubServer() as server:
        monkeypatch.setenv("OPENAI_API_BASE", server.url)
        monkeypatch.setenv("OPENAI_API_KEY", KEY)
        monkeypatch.setenv(gateway.RESPONSE_FORMAT_ENV, "json_schema")
        monkeypatch.setattr(gateway, "_FORMAT_FOR_MODEL", {})
        yield server


def _files_under(folder: Path) -> list[Path]:
    return [p for p in folder.rglob("*") if p.is_file()]


async def test_echoed_key_is_redacted_from_transcripts_and_cache(leaky: StubServer, tmp_path: Path) -> None:
    leaky.default = "echo-auth"
    leaky.script("echo-auth-malformed")  # the first turn: an unparseable reply quoting the header, kept as `raw`
    team = tmp_path / "leaky.yaml"
    team.write_text(TEAM)
    out = tmp_path / "out"
    summary = await run_batch(plan_batch([CASE], [str(team)], repeats=1, out_dir=out), concurrency=1, cache=True, score=True)
    assert leaky.count >= 3
    assert sum(summary.counts.values()) >= 1
    files = _files_under(out)
    assert any(p.suffix == ".jsonl" for p in files) and any(p.name.endswith(".sqlite") for p in files)
    for path in files:
        data = path.read_bytes()
        assert KEY.encode() not in data, f"the key is in {path.name}"
    for path in files:
        if path.name.endswith(".sqlite"):
            db = sqlite3.connect(path)
            for (text,) in db.execute("SELECT text FROM replies"):
                assert KEY not in text
            db.close()
    transcript = read_transcript(next(p for p in files if p.suffix == ".jsonl"))
    assert not transcript.problems
    assert "[redacted]" in transcript.path.read_text(encoding="utf-8")


def test_writer_redacts_every_string(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("MY_SERVICE_TOKEN", 'tok"with\\quote-123456')
    path = tmp_path / "t.jsonl"
    with TranscriptWriter(path) as w:
        w.write(RunEnded(status="completed", rounds=1, reason='echo tok"with\\quote-123456 and Bearer abcdefghij'))
    text = path.read_text(encoding="utf-8")
    assert "quote-123456" not in text and "abcdefghij" not in text
    assert read_transcript(path).events[0].reason.count("[redacted]") == 2


def test_words_that_look_like_markers_are_not_rewritten(tmp_path: Path) -> None:
    path = tmp_path / "t.jsonl"
    reason = "high-risk-patient; prior authorization pending; no key here"
    with TranscriptWriter(path) as w:
        w.write(RunEnded(status="completed", rounds=1, reason=reason))
    assert read_transcript(path).events[0].reason == reason
