"""Imported diagnostic cases (no conflicts) work everywhere a conflict case does: run, score, index, compare."""

from __future__ import annotations

from pathlib import Path

import pytest

import builders
from agents.runner import RunSpec, run_sync
from scenarios.importers import get_importer, import_file
from transcripts.compare import compare_runs, load_runs
from transcripts.index import open_index
from transcripts.scoring import score_transcript

ROOT = Path(__file__).resolve().parents[2]
SOURCE = ROOT / "scenarios" / "external" / "agentclinic" / "agentclinic_medqa.jsonl"


@pytest.fixture(scope="module")
def sample():
    scenarios = import_file(get_importer("agentclinic"), SOURCE).scenarios
    return scenarios[::15]  # 8 cases spread over the file


@pytest.fixture(scope="module")
def runs(sample, tmp_path_factory):
    out = tmp_path_factory.mktemp("imported")
    team = builders.team(max_rounds=1)
    paths = {}
    for scenario in sample:
        for policy in ("preferred", "unacceptable"):
            spec = RunSpec(scenario=scenario, team=team, team_snapshot=builders.snapshot(team), model=f"scripted/{policy}", out_dir=out)
            result = run_sync(spec)
            assert result.status == "completed", result.reason
            paths[(scenario.id, policy)] = result.path
    return out, paths


def test_the_council_runs_and_the_diagnosis_is_scored(sample, runs):
    _out, paths = runs
    for scenario in sample:
        good = score_transcript(paths[(scenario.id, "preferred")])
        bad = score_transcript(paths[(scenario.id, "unacceptable")])
        assert good.diagnosis is not None and good.diagnosis.correct, (scenario.id, good.diagnosis)
        assert bad.diagnosis is not None and bad.diagnosis.correct is False, (scenario.id, bad.diagnosis)
        assert good.conflicts == [] and good.overall > bad.overall
        assert good.dimensions["fairness"].score is None, "no evidence on fairness: not assessed"


def test_index_and_compare_handle_diagnostic_runs(sample, runs):
    out, _paths = runs
    index = open_index(out)
    assert index.count() == 2 * len(sample)
    records, problems = load_runs(out)
    assert problems == []
    report = compare_runs(records, by="model")
    assert {g.name for g in report.groups} == {"scripted/preferred", "scripted/unacceptable"}
