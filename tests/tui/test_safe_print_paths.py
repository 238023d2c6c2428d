"""Issue 10.2: text from scenario, team and transcript files never reaches the terminal raw.

A hostile title sets the window title (OSC 0), clears the screen, draws fake text and writes the
clipboard (OSC 52); a right-to-left override reorders what is read. Every command that prints such
text must show the characters as visible escapes instead.
"""

from __future__ import annotations

import json
from pathlib import Path

import yaml
from click.testing import CliRunner

from hostile_builders import ESC_TITLE, case_dict, write_case, write_transcript
from tui.cli.main import cli
from tui.safe_text import visible

RAW = ("\x1b", "\x07", "\u202e", "\u202c", "\u200b", "\x9b")


def run(*args: str):
    result = CliRunner().invoke(cli, list(args), catch_exceptions=False)
    assert "Traceback" not in result.output
    return result


def assert_clean(text: str) -> None:
    for ch in RAW:
        assert ch not in text, f"raw {ch!r} reached the output"


def hostile_case(tmp_path: Path) -> Path:
    data = case_dict(id="hostile-case", title=ESC_TITLE, summary="x\x9b31m" + ESC_TITLE)
    data["facts"][0]["text"] = ESC_TITLE
    return write_case(tmp_path, data)


def test_visible_shows_bidi_and_zero_width() -> None:
    assert visible("a\u202eb\u2066c\u200bd\x1b") == "a\\u202eb\\u2066c\\u200bd\\x1b"


def test_scenarios_show_and_list_print_no_raw_escape(tmp_path: Path) -> None:
    path = hostile_case(tmp_path)
    shown = run("scenarios", "show", str(path))
    assert shown.exit_code == 0, shown.output
    assert_clean(shown.output)
    assert "\\x1b]0;pwned" in shown.output and "\\u202e" in shown.output
    for args in (("scenarios", "list", str(tmp_path)), ("scenarios", "list", str(tmp_path), "--json"),
                 ("scenarios", "show", str(path), "--json")):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert_clean(result.output)
    data = json.loads(run("scenarios", "show", str(path), "--json").stdout)
    assert data["title"] == ESC_TITLE  # JSON escapes keep the data exact


def test_teams_show_prints_no_raw_escape(tmp_path: Path) -> None:
    team = yaml.safe_load((Path(__file__).parents[2] / "agents" / "teams" / "default.yaml").read_text())
    team["id"] = "hostile"
    team["title"] = ESC_TITLE
    (tmp_path / "persona.md").write_text(ESC_TITLE + "\nYou are a careful clinician.\n", encoding="utf-8")
    team["members"][0]["prompt"] = "persona.md"
    path = tmp_path / "hostile.yaml"
    path.write_text(yaml.safe_dump(team, allow_unicode=True), encoding="utf-8")
    for args in (("teams", "show", str(path)), ("teams", "show", str(path), "--json")):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert_clean(result.output)
    assert "\\x1b]0;pwned" in run("teams", "show", str(path)).output


def test_compare_md_csv_and_messages_print_no_raw_escape(tmp_path: Path) -> None:
    scenario = case_dict(id="hostile-case", title=ESC_TITLE)
    runs = tmp_path / "runs"
    runs.mkdir()
    for seed in range(2):
        write_transcript(runs / f"r{seed}.jsonl", scenario, "Order a CT scan.")
    assert run("score", str(runs)).exit_code == 0
    for fmt in ("md", "csv", "json"):
        result = run("compare", str(runs), "--by", "scenario.title", "--format", fmt)
        assert result.exit_code == 0, result.output
        assert_clean(result.output)
    bad = run("compare", str(runs), "--by", "scenario.title", "--baseline", "nope")
    assert bad.exit_code == 2
    assert_clean(bad.output)
    out = tmp_path / "r.md"
    assert run("compare", str(runs), "--by", "scenario.title", "--out", str(out)).exit_code == 0
    assert_clean(out.read_text(encoding="utf-8"))


def test_agentclinic_import_drops_control_characters(tmp_path: Path) -> None:
    source = Path(__file__).parents[2] / "scenarios" / "external" / "agentclinic" / "agentclinic_medqa.jsonl"
    record = json.loads(source.read_text(encoding="utf-8").splitlines()[0])
    record["OSCE_Examination"]["Patient_Actor"]["History"] = ESC_TITLE + " She has double vision."
    hostile = tmp_path / "hostile.jsonl"
    hostile.write_text(json.dumps(record) + "\n", encoding="utf-8")
    out = tmp_path / "imported"
    result = run("scenarios", "import", "agentclinic", str(hostile), "--out", str(out))
    assert result.exit_code == 0, result.output
    written = list(out.glob("*.yaml"))
    assert written
    text = written[0].read_text(encoding="utf-8")
    assert "All checks passed" in text  # the words stay, the escapes go
    loaded = yaml.safe_load(text)
    assert_clean(json.dumps(loaded, ensure_ascii=False))
    assert_clean(run("scenarios", "show", str(written[0])).output)


def test_score_output_of_a_hostile_reply_prints_no_raw_escape(tmp_path: Path) -> None:
    scenario = case_dict(red_flags=[{"id": "RF1", "description": "Sends her home.", "dimension": "safety",
                                     "pattern": "(?i)go home.*"}])
    path = write_transcript(tmp_path / "r.jsonl", scenario, "Go home \u202enow\x1b]52;c;eA==\x07.")
    for args in (("score", str(path), "--json"), ("score", str(path), "--force"), ("score", str(tmp_path), "--json", "--force")):
        result = run(*args)
        assert result.exit_code == 0, result.output
        assert_clean(result.output)
    card = json.loads(run("score", str(path), "--json").stdout)
    assert "Go home" in next(i for i in card["items"] if i["id"] == "red_flag:RF1")["reason"]
