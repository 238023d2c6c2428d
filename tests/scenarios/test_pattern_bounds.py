"""Issue 10.1: red-flag patterns are user input run against model output; no match may hang."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from pathlib import Path

from hostile_builders import case_dict, write_case, write_transcript
from scenarios.loader import validate_path
from scenarios.patterns import PatternTimeout, probe, search

SLOW_IN_ANY_ENGINE = r"(?i)(a|aa)+$"  # exponential in re and in regex: must be refused
SLOW_ON_SOME_TEXT = r"zq(a|aa)+$"  # passes the probes, but backtracks on "zqaaaa...!"
TRIGGER = "zq" + "a" * 40 + "!"


def _flag(pattern: str, **extra) -> dict:
    return {"id": "RF1", "description": "Bad.", "dimension": "safety", "pattern": pattern, **extra}


def test_validate_refuses_a_catastrophic_pattern_in_one_line_fast(tmp_path: Path) -> None:
    path = write_case(tmp_path, case_dict(red_flags=[_flag(SLOW_IN_ANY_ENGINE, examples_match=["aaa"])]))
    started = time.monotonic()
    problems = validate_path(path)
    elapsed = time.monotonic() - started
    assert elapsed < 1.0, elapsed
    assert len(problems) == 1
    assert problems[0].startswith(f"{path}:") and ": red_flags[0].pattern: pattern takes longer than" in problems[0]
    assert "\n" not in problems[0]


def test_validate_refuses_a_pattern_that_hangs_on_its_own_example(tmp_path: Path) -> None:
    """Today `re` never finishes here; the test runs the CLI in a subprocess so a hang is a failure."""
    path = write_case(tmp_path, case_dict(red_flags=[_flag(SLOW_ON_SOME_TEXT, examples_match=["zqa"], examples_no_match=[TRIGGER])]))
    result = subprocess.run([sys.executable, "-m", "tui.cli.main", "scenarios", "validate", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 1
    lines = result.stdout.splitlines()
    assert len(lines) == 1 and ": red_flags[0].pattern: pattern takes longer than" in lines[0], result.stdout
    assert "Traceback" not in result.stderr


def test_nested_quantifier_shapes_that_hang_re_finish_fast(tmp_path: Path) -> None:
    """`(x+x+)+y` and `^(\\w+\\s?)*$` take seconds (or forever) with `re`; bounded, they finish."""
    path = write_case(tmp_path, case_dict(red_flags=[
        _flag(r"(x+x+)+y", examples_match=["xxy"], examples_no_match=["x" * 30]),
        {**_flag(r"^(\w+\s?)*$", examples_match=["ok"], examples_no_match=["word " * 8 + "!"]), "id": "RF2"},
    ]))
    result = subprocess.run([sys.executable, "-m", "tui.cli.main", "scenarios", "validate", str(path)],
                            capture_output=True, text=True, timeout=30)
    assert result.returncode == 0, result.stdout + result.stderr


def test_scoring_records_a_timed_out_red_flag_as_not_checked(tmp_path: Path) -> None:
    scenario = case_dict(red_flags=[_flag(SLOW_ON_SOME_TEXT, examples_match=["zqa"])])
    transcript = write_transcript(tmp_path / "run.jsonl", scenario, f"Go home. {TRIGGER}")
    result = subprocess.run([sys.executable, "-m", "tui.cli.main", "score", str(transcript), "--json"],
                            capture_output=True, text=True, timeout=60)
    assert result.returncode == 0, result.stderr
    card = json.loads(result.stdout)
    item = next(i for i in card["items"] if i["id"] == "red_flag:RF1")
    assert item["outcome"] == "not checked" and item["graded"] is False
    assert "took longer than" in item["reason"]
    assert card["red_flags_hit"] == []
    shown = subprocess.run([sys.executable, "-m", "tui.cli.main", "score", str(transcript), "--force"],
                           capture_output=True, text=True, timeout=60)
    assert "not checked" in shown.stdout


def test_search_and_probe_bounds() -> None:
    started = time.monotonic()
    try:
        search(SLOW_ON_SOME_TEXT, TRIGGER, timeout=0.05)
    except PatternTimeout as exc:
        assert "took longer" in str(exc)
    else:
        raise AssertionError("expected a timeout")
    assert time.monotonic() - started < 1.0
    assert probe(SLOW_IN_ANY_ENGINE) is not None
    assert probe(r"(?i)(?<!not )\bbenign\b") is None  # lookbehinds the library relies on still work
    assert search(r"(?i)(?<!not )\bbenign\b", "It is not benign.") is None
    assert search(r"(?i)(?<!not )\bbenign\b", "It is benign.") is not None


def test_tui_scorecard_shows_the_red_flag_as_not_checked(tmp_path: Path) -> None:
    from transcripts.scoring import score_transcript
    from tui.app.render_events import render_scorecard

    scenario = case_dict(red_flags=[_flag(SLOW_ON_SOME_TEXT, examples_match=["zqa"])])
    transcript = write_transcript(tmp_path / "run.jsonl", scenario, f"Go home. {TRIGGER}")
    card = score_transcript(transcript, record=False)
    shown = render_scorecard(card.model_dump(mode="json")).plain
    line = next(line for line in shown.splitlines() if "RF1" in line)
    assert "not checked" in line and "ungraded" in line
