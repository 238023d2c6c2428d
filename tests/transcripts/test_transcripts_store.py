"""Transcripts on disk: every event flushed as written; a file cut off anywhere still reads."""

from __future__ import annotations

import json

import builders
from agents.runner import RunSpec, run_sync
from transcripts.events import RunStarted, TurnTaken
from transcripts.paths import confined, make_run_id
from transcripts.store import TranscriptWriter, read_transcript

import pytest


def _run(tmp_path):
    team = builders.team()
    spec = RunSpec(scenario=builders.scenario(), team=team, team_snapshot=builders.snapshot(team), model="scripted/preferred", out_dir=tmp_path)
    return run_sync(spec).path


def test_each_event_is_on_disk_as_soon_as_it_is_written(tmp_path):
    path = tmp_path / "r.jsonl"
    writer = TranscriptWriter(path)
    writer.write(RunStarted(run_id="r", scenario_id="s", scenario_hash="h", team_id="t", team_hash="h", protocol="round_robin", models={}, scenario={}, team={}))
    writer.write(TurnTaken(round=1, member="ethicist", ok=False, error="boom"))
    # not closed: another process reading now sees both events
    lines = path.read_text().splitlines()
    assert [json.loads(line)["type"] for line in lines] == ["run_started", "turn"]
    assert [json.loads(line)["seq"] for line in lines] == [0, 1]
    writer.close()


@pytest.mark.parametrize("cut", [1, 37, 500, -1, -2])
def test_a_transcript_cut_off_mid_line_reads_up_to_the_cut(tmp_path, cut):
    path = _run(tmp_path)
    whole = path.read_bytes()
    complete_events = len(read_transcript(path).events)
    cut_at = cut if cut > 0 else len(whole) + cut
    path.write_bytes(whole[:cut_at])
    t = read_transcript(path)
    assert t.truncated or cut_at == len(whole.rstrip(b"\n"))
    assert len(t.events) < complete_events or cut == -1
    assert all(p.startswith(str(path)) for p in t.problems)
    if t.events:
        assert t.events[0].type == "run_started"
        assert t.status in ("interrupted", "completed")


def test_garbage_lines_are_reported_not_fatal(tmp_path):
    path = _run(tmp_path)
    lines = path.read_text().splitlines()
    lines.insert(3, "{not json")
    lines.insert(5, json.dumps({"type": "no_such_event"}))
    path.write_text("\n".join(lines) + "\n")
    t = read_transcript(path)
    assert len(t.problems) == 2 and ":4:" in t.problems[0] and ":6:" in t.problems[1]
    assert t.status == "completed" and t.resolution is not None


def test_empty_and_binary_files_read_as_corrupt(tmp_path):
    empty = tmp_path / "e.jsonl"
    empty.write_bytes(b"")
    binary = tmp_path / "b.jsonl"
    binary.write_bytes(b"\x00\xff\xfe garbage\n")
    assert read_transcript(empty).status == "corrupt"
    t = read_transcript(binary)
    assert t.status == "corrupt" and t.problems


def test_run_ids_are_safe_file_names_and_paths_are_confined(tmp_path):
    run_id = make_run_id("../../etc/passwd", "h", "Team/../x", "h", {"a": "b"}, 3)
    assert "/" not in run_id and ".." not in run_id and run_id.endswith(run_id[-10:])
    with pytest.raises(ValueError):
        confined(tmp_path, "..", "escape.jsonl")
    assert confined(tmp_path, "batch", "run.jsonl").parent.parent == tmp_path.resolve()
