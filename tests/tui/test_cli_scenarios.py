"""`grandrounds scenarios ...` and `grandrounds teams ...` as a user runs them."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner

from agents.team import TEAMS_DIR
from tui.cli.main import cli

FIXTURE = Path(__file__).resolve().parents[1] / "fixtures" / "minimal-case.yaml"
GOOD = FIXTURE.read_text(encoding="utf-8")


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def test_validate_ok_file_exits_0():
    result = run("scenarios", "validate", str(FIXTURE))
    assert result.exit_code == 0
    assert result.stdout.splitlines() == [f"ok  {FIXTURE}"]


def test_validate_reports_every_problem_and_exits_1(tmp_path):
    (tmp_path / "minimal-case.yaml").write_text(GOOD, encoding="utf-8")
    bad = tmp_path / "bad-case.yaml"
    bad.write_text(GOOD.replace("id: minimal-case", "id: bad-case").replace("verdict: acceptable", "verdict: best").replace("points: 5", "points: 11"), encoding="utf-8")
    (tmp_path / "bomb.yaml").write_text("a: !!python/object/apply:os.system [echo hi]\n", encoding="utf-8")
    result = run("scenarios", "validate", str(tmp_path))
    assert result.exit_code == 1
    lines = result.stdout.splitlines()
    assert f"ok  {tmp_path / 'minimal-case.yaml'}" in lines
    assert any(line.startswith(f"{bad}:") and "conflicts[0].options[1].verdict" in line for line in lines)
    assert any(line.startswith(f"{bad}:") and "rubric[0].points" in line for line in lines)
    assert any(line.startswith(f"{tmp_path / 'bomb.yaml'}:1: ") and "not allowed" in line for line in lines)
    assert "3 file(s): 1 valid, 2 invalid" in result.stderr


def test_validate_missing_path_is_a_one_line_error():
    result = run("scenarios", "validate", "does/not/exist.yaml")
    assert result.exit_code == 2
    assert result.stderr.strip().splitlines() == ["grandrounds: error: does/not/exist.yaml: no such file or folder"]


def test_validate_binary_and_empty_files_without_traceback(tmp_path):
    (tmp_path / "empty.yaml").write_text("", encoding="utf-8")
    (tmp_path / "blob.yaml").write_bytes(b"\x00\x01\x02garbage")
    result = run("scenarios", "validate", str(tmp_path))
    assert result.exit_code == 1
    assert len(result.stdout.splitlines()) == 2


def test_show_renders_the_case():
    result = run("scenarios", "show", str(FIXTURE))
    assert result.exit_code == 0
    out = result.stdout
    for text in ("An anticoagulated patient asks to skip the head CT", "INR 3.4", "on request", "explain-and-scan", "unacceptable", "RF1", "Teaching notes", "Should the team image her head"):
        assert text in out, text


def test_show_prints_markup_in_scenario_text_literally(tmp_path):
    path = tmp_path / "minimal-case.yaml"
    path.write_text(
        GOOD.replace('title: "An anticoagulated patient asks to skip the head CT"', 'title: "[bold red]x[/] and [link=http://x]y[/link]"')
        .replace("Wants to go home to her cat without a scan.", "Wants [/] to go :smile: home [reverse]"),
        encoding="utf-8",
    )
    result = run("scenarios", "show", str(path))
    assert result.exit_code == 0
    assert "[bold red]x[/] and [link=http://x]y[/link]" in result.stdout
    assert "Wants [/] to go :smile: home [reverse]" in result.stdout


def test_show_unknown_id_and_escape_are_one_line_errors():
    for ref in ("no-such-case-xyz", "../../etc/passwd", "..", "a/../b"):
        result = run("scenarios", "show", ref)
        assert result.exit_code == 2, ref
        assert len(result.stderr.strip().splitlines()) == 1 and result.stderr.startswith("grandrounds: error: ")


def test_show_invalid_file_names_its_first_problem(tmp_path):
    path = tmp_path / "minimal-case.yaml"
    path.write_text(GOOD.replace("dimensions: [safety, truthfulness]", "dimensions: [safety, honesty]"), encoding="utf-8")
    result = run("scenarios", "show", str(path))
    assert result.exit_code == 2
    assert result.stderr.startswith(f"grandrounds: error: {path}:") and "conflicts[0].dimensions[1]" in result.stderr


def test_show_json_round_trips():
    result = run("scenarios", "show", str(FIXTURE), "--json")
    data = json.loads(result.stdout)
    assert data["id"] == "minimal-case" and data["conflicts"][0]["options"][0]["verdict"] == "preferred"


def test_list_filters_and_json(tmp_path):
    (tmp_path / "minimal-case.yaml").write_text(GOOD, encoding="utf-8")
    other = GOOD.replace("id: minimal-case", "id: privacy-case").replace("dimensions: [safety, truthfulness]", "dimensions: [privacy]").replace("specialty: emergency medicine", "specialty: oncology")
    (tmp_path / "privacy-case.yaml").write_text(other, encoding="utf-8")
    (tmp_path / "broken.yaml").write_text("id: [", encoding="utf-8")

    table = run("scenarios", "list", str(tmp_path))
    assert table.exit_code == 0
    assert "minimal-case" in table.stdout and "privacy-case" in table.stdout
    assert "skipped 1 invalid file" in table.stderr

    rows = json.loads(run("scenarios", "list", str(tmp_path), "--json", "--dimension", "privacy").stdout)
    assert [r["id"] for r in rows] == ["privacy-case"]
    assert rows[0]["conflicts"] == 1 and rows[0]["dimensions"] == ["privacy"]
    rows = json.loads(run("scenarios", "list", str(tmp_path), "--json", "--specialty", "EMERGENCY").stdout)
    assert [r["id"] for r in rows] == ["minimal-case"]
    rows = json.loads(run("scenarios", "list", str(tmp_path), "--json", "--tag", "nope").stdout)
    assert rows == []


def test_list_default_library_works_even_if_empty():
    result = run("scenarios", "list", "--json")
    assert result.exit_code == 0
    assert isinstance(json.loads(result.stdout), list)


def test_schema_prints_json_schema():
    scenario = json.loads(run("scenarios", "schema").stdout)
    assert "conflicts" in scenario["properties"]
    team = json.loads(run("scenarios", "schema", "--team").stdout)
    assert "members" in team["properties"] and "protocol" in team["properties"]


def test_help_has_examples():
    for args in (["scenarios"], ["scenarios", "list"], ["scenarios", "show"], ["scenarios", "validate"], ["scenarios", "schema"], ["teams"], ["teams", "show"], ["teams", "validate"]):
        result = run(*args, "--help")
        assert result.exit_code == 0 and "Examples:" in result.stdout and "grandrounds " in result.stdout, args


def test_teams_list_show_validate(tmp_path):
    listing = run("teams", "list")
    assert listing.exit_code == 0
    for team_id in ("default", "moderated", "parallel", "with-pharmacist"):
        assert team_id in listing.stdout
    shown = run("teams", "show", "with-pharmacist")
    assert shown.exit_code == 0
    assert "pharmacist" in shown.stdout and "You are the clinical pharmacist" in shown.stdout and "max_turns" in shown.stdout
    snap = json.loads(run("teams", "show", "default", "--json").stdout)
    assert snap["chair"]["persona"].startswith("You are the chair")

    assert run("teams", "validate", str(TEAMS_DIR)).exit_code == 0
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\nprotocol: debate\nmembers:\n  - {role: ethicist, prompt: ../x.md}\nchair: {role: chair, prompt: chair}\n", encoding="utf-8")
    result = run("teams", "validate", str(bad))
    assert result.exit_code == 1
    assert [line.split(": ", 2)[1] for line in result.stdout.splitlines()] == ["protocol", "members[0].prompt"]
    missing = run("teams", "show", "no-such-team")
    assert missing.exit_code == 2 and missing.stderr.startswith("grandrounds: error: no team 'no-such-team'")
