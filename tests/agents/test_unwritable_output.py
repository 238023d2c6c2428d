"""Issue 10.6: unwritable output is found first; a full disk stops the batch with a summary, resumable."""

from __future__ import annotations

import errno
import json
import shutil
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
from click.testing import CliRunner

from transcripts import store
from transcripts.store import read_transcript
from tui.cli.main import cli

CASE = "insulin-error-disclosure"


def run(*args: str, env: dict[str, str] | None = None):
    result = CliRunner(env=env).invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


@pytest.mark.parametrize("where", ["/proc/grandrounds-test", "/sys/grandrounds-test", "FILE/sub"])
def test_unwritable_out_is_one_line_before_any_run(where: str, tmp_path: Path) -> None:
    blocker = tmp_path / "a-file"
    blocker.write_text("x")
    out = where.replace("FILE", str(blocker))
    for cmd in (["batch", CASE, "--model", "scripted/preferred", "--no-progress", "--out", out],
                ["run", CASE, "--model", "scripted/preferred", "-q", "--out", out]):
        result = run(*cmd)
        assert result.exit_code == 2, result.output
        errors = [line for line in result.stderr.splitlines() if line.startswith("grandrounds: error:")]
        assert len(errors) == 1 and out in errors[0]


def test_grandrounds_home_pointing_at_a_file(tmp_path: Path) -> None:
    home = tmp_path / "home-is-a-file"
    home.write_text("x")
    result = run("run", CASE, "--model", "scripted/preferred", "-q", env={"GRANDROUNDS_HOME": str(home)})
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines()[-1].startswith("grandrounds: error:") and "is a file" in result.stderr


def test_a_full_disk_stops_the_batch_with_a_summary_and_resumes(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    out = tmp_path / "out"
    real_write = store.TranscriptWriter.write
    budget = {"events": 25}

    def write(self, event):
        budget["events"] -= 1
        if budget["events"] < 0:
            raise OSError(errno.ENOSPC, "No space left on device")
        return real_write(self, event)

    monkeypatch.setattr(store.TranscriptWriter, "write", write)
    args = ["batch", CASE, "--model", "scripted/preferred", "--repeats", "12", "--concurrency", "1", "--no-progress", "--out", str(out)]
    result = run(*args)
    assert result.exit_code == 4, result.output
    assert "stopped early: write failure" in result.stdout and "No space left on device" in result.stdout
    assert result.stderr.strip().splitlines()[-1].startswith("grandrounds: error: write failure")
    assert len(list(out.glob("*.jsonl"))) <= 3, "no new runs after the first write failure"
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["stopped"].startswith("write failure")

    monkeypatch.setattr(store.TranscriptWriter, "write", real_write)  # space freed
    again = run(*args)
    assert again.exit_code == 0, again.output
    files = list(out.glob("*.jsonl"))
    assert len(files) == 12 and all(read_transcript(f).status == "completed" for f in files)


def test_a_real_full_tmpfs(tmp_path: Path) -> None:
    mount = tmp_path / f"tiny-{uuid.uuid4().hex[:6]}"
    mount.mkdir()
    if shutil.which("mount") is None:
        pytest.skip("no mount command")
    done = subprocess.run(["mount", "-t", "tmpfs", "-o", "size=200k", "tmpfs", str(mount)], capture_output=True)
    if done.returncode != 0:
        pytest.skip(f"cannot mount a tmpfs here: {done.stderr.decode().strip()}")
    try:
        result = subprocess.run(
            [sys.executable, "-m", "tui.cli.main", "batch", CASE, "--model", "scripted/preferred", "--repeats", "60",
             "--no-progress", "--out", str(mount / "out")],
            capture_output=True, text=True, timeout=300,
        )
        assert "Traceback" not in result.stderr, result.stderr[-2000:]
        assert result.returncode == 4, (result.stdout, result.stderr)
        assert "batch " in result.stdout and "runs planned" in result.stdout  # the summary
        assert result.stderr.strip().splitlines()[-1].startswith("grandrounds: error:")
        assert len(list((mount / "out").glob("*.jsonl"))) < 60
    finally:
        subprocess.run(["umount", str(mount)], capture_output=True)
