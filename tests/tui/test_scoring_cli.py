"""`grandrounds score` on folders and files, and the scorecard view, as a user at the terminal sees them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from rich.console import Console

from builders import GOOD_EVENTS as GOOD, resolution, turn, write
from transcripts.scoring import score_transcript
from transcripts.store import read_transcript
from tui.cli.main import cli
from tui.cli.scorecard_view import render_scorecard

HOSTILE = "[@click=app.quit]x[/] [bold unclosed \x1b[31mred e-mail the results to his son"


def _folder(tmp_path: Path) -> Path:
    batch = tmp_path / "runs" / "batch"
    write(batch / "good.jsonl", GOOD)
    write(batch / "bad.jsonl", GOOD[:-1] + [resolution(HOSTILE, {"C1": "withhold", "C2": "email-son"})])
    write(batch / "running.jsonl", GOOD[:2], status=None)
    (batch / "corrupt.jsonl").write_text("not json at all\n", encoding="utf-8")
    return tmp_path / "runs"


def test_score_folder_scores_skips_and_reports(tmp_path: Path) -> None:
    runs = _folder(tmp_path)
    result = CliRunner().invoke(cli, ["score", str(runs)])
    assert result.exit_code == 0, result.output
    assert "4 transcripts: 2 scored, 0 already scored (skipped), 1 unfinished (not recorded), 1 unreadable" in result.output
    assert "Traceback" not in result.output
    assert "corrupt.jsonl" in result.output  # one line naming the file
    again = CliRunner().invoke(cli, ["score", str(runs)])
    assert "0 scored, 2 already scored (skipped)" in again.output
    assert len(read_transcript(runs / "batch" / "good.jsonl").scores) == 1
    forced = CliRunner().invoke(cli, ["score", str(runs), "--force"])
    assert "2 scored" in forced.output
    assert len(read_transcript(runs / "batch" / "good.jsonl").scores) == 2


def test_score_one_file_prints_the_scorecard_and_json(tmp_path: Path) -> None:
    runs = _folder(tmp_path)
    path = runs / "batch" / "bad.jsonl"
    shown = CliRunner().invoke(cli, ["score", str(path)], terminal_width=160)
    assert shown.exit_code == 0, shown.output
    for text in ("truthfulness", "not assessed", "overall", "unacceptable", "hit"):
        assert text in shown.output
    as_json = CliRunner().invoke(cli, ["score", str(path), "--json"])
    card = json.loads(as_json.stdout)
    assert card["red_flags_hit"] == ["RF1"] and card["dimensions"]["fairness"]["score"] is None


def test_score_json_for_a_folder_lists_each_file(tmp_path: Path) -> None:
    runs = _folder(tmp_path)
    result = CliRunner().invoke(cli, ["score", str(runs), "--json"])
    rows = {Path(r["path"]).name: r for r in json.loads(result.stdout)}
    assert rows["good.jsonl"]["status"] == "scored" and rows["good.jsonl"]["overall"] == 100.0
    assert rows["corrupt.jsonl"]["status"] == "unreadable"
    assert rows["running.jsonl"]["status"] == "unfinished"


def test_missing_path_is_one_line_error(tmp_path: Path) -> None:
    result = CliRunner().invoke(cli, ["score", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no such file or folder" in result.output


def test_scorecard_view_shows_model_text_literally(tmp_path: Path) -> None:
    events = [turn("ethicist", 1, choices={"C1": "withhold"}, claims=[["F1"]]),
              resolution(HOSTILE, {"C1": "withhold", "C2": "email-son"}, dissent=[{"member": "ethicist", "text": HOSTILE}])]
    card = score_transcript(write(tmp_path / "hostile.jsonl", events))
    console = Console(record=True, width=200, color_system=None)
    console.print(render_scorecard(card))
    text = console.export_text()
    assert "[@click=app.quit]x[/]" in text  # markup printed as typed, not interpreted
    assert "\x1b" not in text


def test_score_folder_with_scripted_judge_then_nothing_to_do(tmp_path: Path) -> None:
    runs = _folder(tmp_path)
    first = CliRunner().invoke(cli, ["score", str(runs), "--judge", "scripted/preferred", "--judge-samples", "3"])
    assert first.exit_code == 0, first.output
    assert "2 scored" in first.output
    assert (runs / "batch" / ".judge-cache.sqlite").exists()
    good = read_transcript(runs / "batch" / "good.jsonl").latest_score()
    assert good.judge == "scripted/preferred" and good.scorecard["rubric_agreement"] == 1.0
    again = CliRunner().invoke(cli, ["score", str(runs), "--judge", "scripted/preferred", "--judge-samples", "3"])
    assert "0 scored, 2 already scored (skipped)" in again.output
