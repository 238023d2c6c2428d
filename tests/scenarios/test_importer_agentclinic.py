"""The AgentClinic importer on the real file: every record becomes a valid diagnostic scenario."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from scenarios.importers import IMPORTERS, get_importer, import_file
from scenarios.loader import load_scenario
from scenarios.model import Scenario
from tui.cli.scenarios_tools import import_cmd

ROOT = Path(__file__).resolve().parents[2]
SHARED = ROOT.parent / "shared" / "external" / "agentclinic" / "agentclinic_medqa.jsonl"
COPY = ROOT / "scenarios" / "external" / "agentclinic" / "agentclinic_medqa.jsonl"
SOURCE = SHARED if SHARED.exists() else COPY


@pytest.fixture(scope="module")
def result():
    return import_file(get_importer("agentclinic"), SOURCE)


def test_every_record_imports(result) -> None:
    assert result.problems == []
    assert result.records == 107
    assert len(result.scenarios) == 107
    ids = [s.id for s in result.scenarios]
    assert len(set(ids)) == 107
    assert ids[0] == "agentclinic-medqa-001" and ids[-1] == "agentclinic-medqa-107"


def test_imported_cases_are_diagnostic_and_complete(result) -> None:
    for s in result.scenarios:
        assert s.ground_truth and s.ground_truth["diagnosis"].strip()
        assert s.conflicts == [] and s.red_flags == []
        assert s.setting == "clinic (OSCE)"
        assert s.tags == ["imported", "agentclinic", "diagnostic"]
        assert s.provenance.license == "MIT" and s.provenance.record == str(int(s.id.rsplit("-", 1)[1]))
        on_request = [f for f in s.facts if f.visibility == "on_request"]
        assert on_request, s.id
        assert all(f.text.strip() for f in s.facts)
        # flattened into prose, no Python/JSON reprs leaking through
        assert not any(mark in f.text for f in on_request for mark in ("{'", "['", '{"', "_Examination")), s.id
        assert len(s.facts) <= 30
        assert any(s.ground_truth["diagnosis"] in r.criterion for r in s.rubric)
        assert {r.dimension for r in s.rubric} >= {"truthfulness", "interpretability"}
        assert s.patient["demographics"]


def test_first_record_reads_like_a_case(result) -> None:
    s = result.scenarios[0]
    assert s.patient["age"] == 35 and s.patient["sex"] == "female"
    assert s.ground_truth == {"diagnosis": "Myasthenia gravis"}
    texts = [f.text for f in s.facts if f.visibility == "on_request"]
    assert "Vital signs — temperature: 36.6°C (97.9°F); blood pressure: 125/80 mmHg; heart rate: 72 bpm; respiratory rate: 16 breaths/min" in texts
    assert "Blood tests — acetylcholine receptor antibodies: Present (elevated)" in texts
    assert "Imaging — chest CT: Normal, no thymoma or other masses detected." in texts
    # the history the patient tells is shared, the examination is not
    assert any(f.visibility == "all" and f.text.startswith("History of present illness:") for f in s.facts)


def test_irregular_records(result) -> None:
    by_id = {s.id: s for s in result.scenarios}
    deep = by_id["agentclinic-medqa-077"]  # four levels of nesting and a boolean leaf
    texts = [f.text for f in deep.facts]
    assert "Vital signs — within normal limits: yes" in texts
    assert any(t.startswith("Neurological examination — upper extremities, sensation") for t in texts)
    assert by_id["agentclinic-medqa-041"].patient["race"] == "Caucasian"
    assert by_id["agentclinic-medqa-003"].patient["age"] == "8 months"
    assert by_id["agentclinic-medqa-019"].fixed_attributes == ["sex"]  # pregnancy


def test_written_files_load_back_identically(result, tmp_path: Path) -> None:
    from scenarios.writer import write_scenarios

    write_scenarios(result.scenarios[:5], tmp_path)
    for s in result.scenarios[:5]:
        path = tmp_path / f"{s.id}.yaml"
        assert load_scenario(path) == s
        assert Scenario.model_validate(yaml.safe_load(path.read_text(encoding="utf-8"))) == s


def _broken_copy(tmp_path: Path) -> Path:
    lines = SOURCE.read_text(encoding="utf-8").splitlines()
    lines[11] = lines[11][:-40]  # line 12: truncated JSON
    lines[29] = '{"OSCE_Examination": {"Patient_Actor": {"Demographics": "40-year-old man"}}}'  # line 30: no diagnosis
    lines[49] = "[1, 2, 3]"  # line 50: not an object
    path = tmp_path / "broken.jsonl"
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")
    return path


def test_malformed_lines_are_reported_and_skipped(tmp_path: Path) -> None:
    result = import_file(get_importer("agentclinic"), _broken_copy(tmp_path))
    messages = [str(p) for p in result.problems]
    assert len(messages) == 3
    assert messages[0].startswith("broken.jsonl:12: not valid JSON")
    assert messages[1] == "broken.jsonl:30: missing or empty 'OSCE_Examination.Correct_Diagnosis'"
    assert messages[2] == "broken.jsonl:50: expected a JSON object, got list"
    assert len(result.scenarios) == 104
    ids = {s.id for s in result.scenarios}
    assert "agentclinic-medqa-012" not in ids and "agentclinic-medqa-013" in ids  # ids keep their line numbers


def test_cli_imports_and_exit_codes(tmp_path: Path) -> None:
    runner = CliRunner()
    out = tmp_path / "out"
    ok = runner.invoke(import_cmd, ["agentclinic", str(SOURCE), "--out", str(out)])
    assert ok.exit_code == 0, ok.output
    assert "imported 107 of 107 records" in ok.output
    assert len(list(out.glob("*.yaml"))) == 107

    again = runner.invoke(import_cmd, ["agentclinic", str(SOURCE), "--out", str(out)])
    assert again.exit_code == 0 and "107 unchanged" in again.output

    # a file edited by hand is not overwritten silently
    edited = out / "agentclinic-medqa-001.yaml"
    edited.write_text(edited.read_text(encoding="utf-8") + "# my notes\n", encoding="utf-8")
    clash = runner.invoke(import_cmd, ["agentclinic", str(SOURCE), "--out", str(out)])
    assert clash.exit_code == 2 and "--force" in clash.output
    assert edited.read_text(encoding="utf-8").endswith("# my notes\n")
    forced = runner.invoke(import_cmd, ["agentclinic", str(SOURCE), "--out", str(out), "--force"])
    assert forced.exit_code == 0 and not edited.read_text(encoding="utf-8").endswith("# my notes\n")


def test_cli_reports_broken_records_and_exits_1(tmp_path: Path) -> None:
    result = CliRunner().invoke(import_cmd, ["agentclinic", str(_broken_copy(tmp_path)), "--out", str(tmp_path / "o")])
    assert result.exit_code == 1
    assert "broken.jsonl:12: not valid JSON" in result.output
    assert "imported 104 of 107 records" in result.output
    assert len(list((tmp_path / "o").glob("*.yaml"))) == 104


def test_cli_bad_input(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(import_cmd, ["agentclinic", str(tmp_path / "nope.jsonl"), "--out", str(tmp_path)])
    assert missing.exit_code == 2 and "no such file" in missing.output
    unknown = runner.invoke(import_cmd, ["medqa", str(SOURCE), "--out", str(tmp_path)])
    assert unknown.exit_code == 2
    empty = tmp_path / "empty.jsonl"
    empty.write_text("\n\n", encoding="utf-8")
    nothing = runner.invoke(import_cmd, ["agentclinic", str(empty), "--out", str(tmp_path)])
    assert nothing.exit_code == 2 and "no records" in nothing.output


def test_registry_names_every_importer() -> None:
    for name in IMPORTERS:
        importer = get_importer(name)
        assert importer.name == name and importer.description
    with pytest.raises(KeyError, match="known sources: agentclinic"):
        get_importer("nope")


def test_shipped_copy_keeps_its_license() -> None:
    folder = ROOT / "scenarios" / "external" / "agentclinic"
    assert "MIT License" in (folder / "LICENSE.txt").read_text(encoding="utf-8")
    assert (folder / "SOURCE.md").exists()
    if SHARED.exists():
        assert COPY.read_bytes() == SHARED.read_bytes()
