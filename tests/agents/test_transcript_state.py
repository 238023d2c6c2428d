"""`transcript_state` (resume and accounting) reads a transcript's end, and answers exactly as a read
of the whole file: with many score lines after `run_ended`, more than the window holds, or none."""

from __future__ import annotations

import json
from pathlib import Path

from agents.batch import plan_batch, run_batch, transcript_state
from agents.batch.state import _TAIL_BYTES, _state_of


def _one_run(tmp_path: Path) -> Path:
    import asyncio

    plan = plan_batch(["insulin-error-disclosure"], ["default"], models=["scripted/preferred"], out_dir=tmp_path / "out")
    asyncio.run(run_batch(plan, 1, score=False, write_manifest=False))
    return plan.runs[0].path


def _score_line(tokens: int, pad: int) -> bytes:
    event = {"v": 1, "seq": 0, "ts": "2026-12-06T00:00:00.000+00:00", "type": "score", "scorer_version": "x", "judge": "j",
             "scorecard": None, "usage": {"prompt_tokens": tokens, "completion_tokens": 1, "cost_usd": 0.5}, "note": "p" * pad}
    return json.dumps(event, separators=(",", ":")).encode() + b"\n"


def test_end_of_file_answers_as_the_whole_file_does(tmp_path: Path) -> None:
    path = _one_run(tmp_path)
    assert path.stat().st_size > _TAIL_BYTES // 8  # a real transcript, tens of kB
    cases = {
        "as written": b"",
        "scores within the window": b"".join(_score_line(10 + i, 500) for i in range(20)),
        "scores longer than the window": b"".join(_score_line(10 + i, 9_000) for i in range(12)),
    }
    original = path.read_bytes()
    for name, scores in cases.items():
        path.write_bytes(original + scores)
        state, whole = transcript_state(path), _state_of(path.read_bytes())
        assert state.status == whole.status == "completed", name
        assert state.scores == whole.scores == (len(scores.splitlines())), name
        assert state.judge_usage == whole.judge_usage and state.usage == whole.usage, name
        assert state.usage_by_member == whole.usage_by_member and state.usage.prompt_tokens > 0, name


def test_a_long_transcript_without_run_ended_is_unfinished(tmp_path: Path) -> None:
    path = _one_run(tmp_path)
    lines = path.read_bytes().splitlines(keepends=True)
    unfinished = b"".join(line for line in lines if b'"type":"run_ended"' not in line)
    path.write_bytes(unfinished * max(1, 2 * _TAIL_BYTES // len(unfinished)))  # longer than the window
    assert path.stat().st_size > _TAIL_BYTES
    state = transcript_state(path)
    assert state.exists and state.status is None
    assert not transcript_state(tmp_path / "missing.jsonl").exists
