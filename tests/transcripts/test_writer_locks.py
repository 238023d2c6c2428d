"""Issue 10.4 and 10.8: one lock discipline for every writer of a run's transcript.

A second writer of the same run id is refused in one line and never deletes the live file; a scorer
re-reads under the lock, so concurrent scoring never appends the same score twice.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from hostile_builders import case_dict, write_transcript
from transcripts.locks import TranscriptBusy, TranscriptLock, claim_transcript
from transcripts.scoring import record_score, score_transcript_rules
from transcripts.store import read_transcript
from tui.cli.main import cli

CASE = "insulin-error-disclosure"


def _only_file(folder: Path) -> Path:
    files = sorted(folder.glob("*.jsonl"))
    assert len(files) == 1, files
    return files[0]


def test_run_refuses_a_transcript_another_writer_holds(tmp_path: Path) -> None:
    out = tmp_path / "out"
    first = CliRunner().invoke(cli, ["run", CASE, "--model", "scripted/preferred", "--out", str(out), "--no-score", "-q"])
    assert first.exit_code == 0, first.output
    path = _only_file(out)
    before = path.read_bytes()
    with TranscriptLock(path):  # another process's live run of the same id
        second = CliRunner().invoke(cli, ["run", CASE, "--model", "scripted/preferred", "--out", str(out), "--no-score", "-q"])
    assert second.exit_code == 2
    lines = second.stderr.strip().splitlines()
    assert len(lines) == 1 and "another process is writing this run" in lines[0], second.stderr
    assert path.read_bytes() == before, "the live transcript was left alone"


def test_second_run_of_the_same_id_while_the_first_runs(tmp_path: Path) -> None:
    """Today the second `run` unlinks the first's file; the first then writes into a deleted file."""
    out = tmp_path / "out"
    args = [sys.executable, "-m", "tui.cli.main", "run", CASE, "--model", "scripted/preferred?latency=1.5", "--out", str(out), "--no-score", "-q"]
    first = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not (list(out.glob("*.jsonl")) and _only_file(out).stat().st_size > 0):
            time.sleep(0.1)
        path = _only_file(out)
        inode = path.stat().st_ino
        second = subprocess.run(args, capture_output=True, text=True, timeout=60)
        assert first.poll() is None, "the first run must still be running for this test to mean anything"
        assert second.returncode == 2, second.stderr
        assert "another process is writing this run" in second.stderr and "Traceback" not in second.stderr
        first.wait(timeout=120)
    finally:
        if first.poll() is None:
            first.kill()
    assert first.returncode == 0, first.stderr.read() if first.stderr else ""
    assert path.stat().st_ino == inode, "the file the first run wrote is still the one on disk"
    transcript = read_transcript(path)
    assert transcript.status == "completed" and transcript.ended.usage.prompt_tokens > 0


def test_claim_is_refused_while_held_and_truncates_when_free(tmp_path: Path) -> None:
    path = tmp_path / "r.jsonl"
    path.write_text("old attempt\n")
    lock = claim_transcript(path)
    try:
        try:
            claim_transcript(path)
        except TranscriptBusy as exc:
            assert "\n" not in str(exc)
        else:
            raise AssertionError("a second claim must be refused")
    finally:
        lock.release()
    assert path.read_text() == ""
    claim_transcript(path).release()


def test_a_stale_scorer_does_not_append_a_duplicate_score(tmp_path: Path) -> None:
    path = write_transcript(tmp_path / "run.jsonl", case_dict(), "Order a CT scan.")
    stale = read_transcript(path)  # scorer A read the file...
    fresh = read_transcript(path)
    assert record_score(path, fresh, score_transcript_rules(fresh))  # ...scorer B appended meanwhile
    assert record_score(path, stale, score_transcript_rules(stale)) is False
    assert len(read_transcript(path).scores) == 1


def test_concurrent_score_processes_append_one_score_each_file(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    for i in range(12):
        write_transcript(runs / f"r{i}.jsonl", case_dict(), "Order a CT scan.")
    cmd = [sys.executable, "-m", "tui.cli.main", "score", str(runs)]
    env = {**os.environ}
    procs = [subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True, env=env) for _ in range(3)]
    for p in procs:
        p.wait(timeout=120)
    for p in procs:
        assert "Traceback" not in (p.stderr.read() if p.stderr else "")
    for path in runs.glob("*.jsonl"):
        assert len(read_transcript(path).scores) == 1, path
