"""`grandrounds run` as a user types it: streamed output, --json, clear errors, Ctrl-C."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from click.testing import CliRunner

from transcripts.store import read_transcript
from tui.cli.main import cli

CASE = "insulin-error-disclosure"


def test_run_streams_the_deliberation_and_ends_with_resolution_and_scorecard(tmp_path):
    result = CliRunner().invoke(cli, ["run", CASE, "--model", "scripted/preferred", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    out = result.output
    assert "[round 1] Diagnostician" in out and "[round 2] Patient Advocate" in out
    assert "concern truthfulness" in out and "Resolution" in out
    assert "overall score 100/100" in out
    transcript = next(tmp_path.glob("*.jsonl"))
    assert str(transcript) in out
    assert read_transcript(transcript).latest_score is not None


def test_run_json_is_machine_readable(tmp_path):
    result = CliRunner().invoke(cli, ["run", CASE, "--model", "scripted/unacceptable", "--out", str(tmp_path), "--json"])
    assert result.exit_code == 0, result.output
    summary = json.loads(result.stdout)
    assert summary["status"] == "completed" and summary["turns"] == 8
    assert Path(summary["path"]).exists()
    assert {c["option"] for c in summary["resolution"]["choices"]} <= {"blame-appetite", "disclose-only-if-asked", "informal-warning"}
    assert summary["scorecard"]["overall"] < 50


def test_unknown_case_and_bad_team_are_one_line_errors(tmp_path):
    runner = CliRunner()
    missing = runner.invoke(cli, ["run", "no-such-case", "--model", "scripted/preferred"])
    assert missing.exit_code == 2 and "no scenario 'no-such-case'" in missing.output and "Traceback" not in missing.output
    escape = runner.invoke(cli, ["run", "../../etc/passwd"])
    assert escape.exit_code == 2 and "Traceback" not in escape.output
    bad_team = tmp_path / "team.yaml"
    bad_team.write_text("id: x\nprotocol: shouting\nmembers: []\nchair: {role: chair, prompt: chair}\n")
    result = runner.invoke(cli, ["run", CASE, "--team", str(bad_team), "--model", "scripted/preferred"])
    assert result.exit_code == 2 and "protocol" in result.output and len(result.output.strip().splitlines()) <= 3


def test_ctrl_c_leaves_a_valid_interrupted_transcript(tmp_path):
    env = {**os.environ, "GRANDROUNDS_HOME": str(tmp_path)}
    proc = subprocess.Popen(
        [sys.executable, "-m", "tui.cli.main", "run", CASE, "--model", "scripted/preferred?latency=0.3", "--no-score"],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env, cwd=Path(__file__).resolve().parents[2], text=True,
    )
    deadline = time.time() + 30
    transcript = None
    while time.time() < deadline:
        found = list((tmp_path / "runs").glob("*/*.jsonl"))
        if found and '"type":"turn"' in found[0].read_text():
            transcript = found[0]
            break
        time.sleep(0.1)
    assert transcript is not None, "the run never wrote a turn"
    proc.send_signal(signal.SIGINT)
    _out, err = proc.communicate(timeout=30)
    assert proc.returncode == 130, err
    assert "interrupted" in err and "Traceback" not in err
    t = read_transcript(transcript)
    assert t.problems == [] and t.status == "interrupted"
    assert t.ended is not None and t.ended.turns >= 1


def test_a_team_with_a_judge_gets_its_rubric_graded(tmp_path):
    team = (Path(__file__).resolve().parents[2] / "agents/teams/default.yaml").read_text()
    team_file = tmp_path / "judged.yaml"
    team_file.write_text(team.replace("id: default", "id: judged").replace("judge: null", "judge: scripted/preferred"))
    result = CliRunner().invoke(cli, ["run", CASE, "--team", str(team_file), "--model", "scripted/preferred", "--out", str(tmp_path / "runs"), "--json"])
    assert result.exit_code == 0, result.output
    card = json.loads(result.stdout)["scorecard"]
    assert card["judge"] == "scripted/preferred"
    rubric = [i for i in card["items"] if i["kind"] == "rubric"]
    assert rubric and all(i["graded"] for i in rubric)


def test_run_with_disclosure_none_and_a_judge_end_to_end(tmp_path):
    args = ["run", CASE, "--model", "scripted/preferred", "--disclosure", "none", "--judge", "scripted/preferred", "--out", str(tmp_path)]
    result = CliRunner().invoke(cli, args)
    assert result.exit_code == 0, result.output
    assert "disclosure none" in result.output and "(judged)" in result.output and "judge quotes:" in result.output
    transcript = read_transcript(next(tmp_path.glob("*.jsonl")))
    assert transcript.started.disclosure == "none"
    card = transcript.latest_score().scorecard
    assert card["judge"] == "scripted/preferred"
    assert all(c["judged"] and c["verdict"] == "preferred" and c["quote"] for c in card["conflicts"])
    # without a judge: a clear note, and the conflicts are not assessed
    result = CliRunner().invoke(cli, ["run", CASE, "--model", "scripted/preferred", "--disclosure", "none", "--out", str(tmp_path / "nojudge"), "--json"])
    assert result.exit_code == 0
    assert "not assessed" in result.stderr
    summary = json.loads(result.stdout)
    assert all(not c["assessed"] for c in summary["scorecard"]["conflicts"])


def test_run_a_baseline_team(tmp_path):
    result = CliRunner().invoke(cli, ["run", CASE, "--team", "self-consistency", "--model", "scripted/mixed", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    assert "[answer 9]" in result.output and "protocol self_consistency" in result.output
