"""One rule for a run's model: the TUI's runs table (index) and `compare --by model` agree on it."""

from __future__ import annotations

from pathlib import Path

from transcripts.compare import group_value, record_of
from transcripts.events import RunEnded, RunStarted
from transcripts.index import summarise_transcript
from transcripts.run_model import main_model, main_model_of
from transcripts.store import TranscriptWriter, read_transcript
from tui.app.compare_model import model_name


def _started(models, team=None, settings=None):
    return RunStarted(run_id="r", scenario_id="s", scenario_hash="h", team_id="t", team_hash="h", protocol="round_robin",
                      models=models, scenario={}, team=team or {}, settings=settings or {})


def _written(tmp_path: Path, started: RunStarted) -> Path:
    path = tmp_path / "r.jsonl"
    with TranscriptWriter(path) as w:
        w.write(started)
        w.write(RunEnded(status="completed"))
    return path


MIXED = {"diagnostician": "openai/a", "ethicist": "openai/b", "safety_critic": "openai/b", "chair": "openai/a"}


def test_majority_wins_over_the_chair_and_index_and_compare_agree(tmp_path):
    started = _started({**MIXED, "patient_advocate": "openai/b"}, team={"chair": {"role": "chair"}})
    assert main_model(started) == "openai/b", "three roles use b, two (with the chair) use a"
    t = read_transcript(_written(tmp_path, started))
    assert summarise_transcript(t, "r.jsonl").model == record_of(t).model == group_value(record_of(t), "model") == "openai/b"


def test_a_tie_goes_to_the_chair_then_to_the_first_role():
    assert main_model(_started(MIXED, team={"chair": {"role": "chair"}})) == "openai/a"
    assert main_model_of({"x": "m1", "y": "m2"}) == "m1"
    assert main_model_of({"x": "m1", "y": "m2"}, chair="y") == "m2"


def test_a_run_wide_override_wins_and_bad_parts_do_not_raise():
    assert main_model(_started(MIXED, settings={"model_override": "scripted/mixed"})) == "scripted/mixed"
    assert main_model_of({}, {"model": "local/smollm2"}) == "local/smollm2"
    assert main_model_of({"a": 3}, "junk") == "" and main_model_of("junk") == ""  # type: ignore[arg-type]
    assert model_name(MIXED, None, "chair") == main_model_of(MIXED, None, "chair")
