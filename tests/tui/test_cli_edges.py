"""Issue 10.11: edges: huge plans need --yes, unknown --by keys are refused, echoed values are capped,
Ctrl-C during `score` exits 130 with a summary."""

from __future__ import annotations

import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from hostile_builders import case_dict, write_case, write_transcript
from tui.cli.main import cli

CASE = "insulin-error-disclosure"


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_a_huge_plan_needs_yes_and_is_refused_at_once(tmp_path: Path) -> None:
    started = time.monotonic()
    result = run("batch", CASE, "--model", "scripted/preferred", "--repeats", "100000", "--out", str(tmp_path / "o"), "--no-progress")
    assert time.monotonic() - started < 10
    assert result.exit_code == 2
    assert "about 100,000 runs" in result.stderr and "--yes" in result.stderr
    assert not (tmp_path / "o").exists()


def test_compare_by_an_unknown_key_is_refused_with_the_known_ones(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    write_transcript(runs / "r.jsonl", case_dict(), "Order a CT scan.")
    assert run("score", str(runs)).exit_code == 0
    result = run("compare", str(runs), "--by", "no.such.key")
    assert result.exit_code == 2
    line = result.stderr.strip()
    assert "no run records the key 'no.such.key'" in line and "known keys: team, model" in line and "scenario.specialty" in line
    assert run("compare", str(runs), "--by", "scenario.specialty").exit_code == 0


def test_a_one_megabyte_id_is_not_echoed_in_full(tmp_path: Path) -> None:
    huge = "a" * 1_000_000
    result = run("run", huge, "--model", "scripted/preferred")
    assert result.exit_code == 2
    assert len(result.stderr) < 2_000 and "too long: 1,000,000 characters" in result.stderr
    runs = tmp_path / "runs"
    runs.mkdir()
    write_transcript(runs / "r.jsonl", case_dict(), "Order a CT scan.")
    assert run("score", str(runs)).exit_code == 0
    echoed = run("compare", str(runs), "--baseline", huge)
    assert echoed.exit_code == 2
    assert len(echoed.stderr) < 2_000 and "characters omitted" in echoed.stderr
    path = write_case(tmp_path, case_dict(id="ok-case"))
    path.write_text(path.read_text().replace("id: ok-case", f"id: {huge}", 1))
    validated = run("scenarios", "validate", str(path))
    assert validated.exit_code == 1
    assert all(len(line) <= 1_100 for line in validated.stdout.splitlines())


def test_ctrl_c_during_score_exits_130_with_a_summary(tmp_path: Path) -> None:
    runs = tmp_path / "runs"
    runs.mkdir()
    # a judge with latency makes scoring slow enough to interrupt
    for i in range(40):
        write_transcript(runs / f"r{i:02}.jsonl", case_dict(), "Order a CT scan.")
    proc = subprocess.Popen([sys.executable, "-m", "tui.cli.main", "score", str(runs), "--judge", "scripted/preferred?latency=0.3"],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True)
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline and not any(b'"type":"score"' in p.read_bytes() for p in runs.glob("*.jsonl")):
            assert proc.poll() is None, proc.communicate()
            time.sleep(0.2)
        proc.send_signal(signal.SIGINT)
        _, stderr = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, stderr
    assert "Aborted!" not in stderr and "Traceback" not in stderr
    assert "interrupted:" in stderr and "of 40 transcripts done" in stderr
