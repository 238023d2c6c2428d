"""Issue 10.5: a cut-off score line is repaired and rescored; every report counts what it used."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from transcripts.repair import DAMAGED_SUFFIX
from transcripts.store import read_transcript
from tui.cli.main import cli

CASE = "insulin-error-disclosure"


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def batch(out: Path, *extra: str):
    return run("batch", CASE, "--model", "scripted/preferred", "--repeats", "3", "--out", str(out), "--no-progress", *extra)


def cut_last_line(path: Path, keep: int = 40) -> bytes:
    data = path.read_bytes()
    start = data.rstrip(b"\n").rfind(b"\n") + 1
    path.write_bytes(data[: start + keep])
    return data[start: start + keep]


def test_batch_repairs_a_cut_off_score_line_and_rescores(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(out).exit_code == 0
    victim = sorted(out.glob("*.jsonl"))[0]
    assert read_transcript(victim).events[-1].type == "score"
    lost = cut_last_line(victim)
    again = batch(out)
    assert again.exit_code == 0, again.output
    assert "repaired:" in again.output
    t = read_transcript(victim)
    assert not t.truncated and len(t.scores) == 1 and t.status == "completed"
    assert (victim.parent / (victim.name + DAMAGED_SUFFIX)).read_bytes() == lost + b"\n"
    manifest = json.loads((out / "batch.json").read_text())
    assert manifest["counts"]["scored"] == 1 and len(manifest["repaired"]) == 1


def test_score_force_repairs_instead_of_refusing(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(out).exit_code == 0
    victim = sorted(out.glob("*.jsonl"))[0]
    cut_last_line(victim)
    result = run("score", str(victim), "--force")
    assert result.exit_code == 0
    assert "repaired:" in result.stderr and "not recorded" not in result.stderr
    assert len(read_transcript(victim).scores) == 1


def test_compare_states_how_many_runs_it_used(tmp_path: Path) -> None:
    out = tmp_path / "out"
    assert batch(out).exit_code == 0
    cut_last_line(sorted(out.glob("*.jsonl"))[0])
    md = run("compare", str(out), "--format", "md")
    assert md.exit_code == 0
    assert "3 runs read: 2 scored (used), 1 unscored (not counted" in md.stdout
    data = json.loads(run("compare", str(out), "--format", "json").stdout)
    assert (data["runs"], data["scored"], data["unscored"]) == (3, 2, 1)
