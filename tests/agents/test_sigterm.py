"""Issue 10.7: SIGTERM (timeout, container stop, Slurm) is handled like Ctrl-C in `batch` and `run`."""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

from transcripts.store import read_transcript

CASE = "insulin-error-disclosure"


def _wait_for_transcript(out: Path, proc: subprocess.Popen, timeout: float = 90) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if any(p.stat().st_size > 0 for p in out.glob("*.jsonl")):
            time.sleep(1.0)  # a turn or two in
            return
        assert proc.poll() is None, proc.communicate()
        time.sleep(0.1)
    raise AssertionError("no transcript appeared")


def test_sigterm_stops_a_batch_like_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "batch", CASE, "--model", "scripted/preferred?latency=0.5", "--repeats", "4",
         "--concurrency", "2", "--no-progress", "--no-score", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_transcript(out, proc)
        proc.send_signal(signal.SIGTERM)
        stdout, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, (stdout, stderr)
    assert "Traceback" not in stderr
    assert "interrupted" in stdout and "this invocation:" in stdout  # the summary
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["interrupted"] is True and manifest["counts"]["interrupted"] >= 1
    assert manifest["this_invocation"]["tokens"] > 0, "the killed invocation's spend is counted"
    statuses = [read_transcript(p).status for p in out.glob("*.jsonl")]
    assert "interrupted" in statuses and all(s in ("interrupted", "completed") for s in statuses)


def test_sigterm_stops_a_run_like_ctrl_c(tmp_path: Path) -> None:
    out = tmp_path / "out"
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "run", CASE, "--model", "scripted/preferred?latency=0.5", "--no-score", "-q", "--out", str(out)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    try:
        _wait_for_transcript(out, proc)
        proc.send_signal(signal.SIGTERM)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "interrupted" in stderr and "Traceback" not in stderr
    (path,) = out.glob("*.jsonl")
    assert read_transcript(path).status == "interrupted"
