"""`grandrounds bench --only engine` measures real runs where a user's transcripts go, and cleans up."""

from __future__ import annotations

from pathlib import Path

import pytest

from agents.bench import bench_engine, transcripts_folder
from tui.cli.loading import load_case, load_team_ref


def test_engine_bench_runs_real_deliberations_beside_the_runs_home(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_HOME", str(tmp_path))
    team, snapshot = load_team_ref("default")
    figures = bench_engine(load_case("insulin-error-disclosure"), team, snapshot, runs=3)
    assert figures["runs"] == 3 and figures["turns"] == 3 * 8  # the default team: 4 members x 2 rounds
    assert figures["turns_per_s"] > 0 and len(figures["turns_per_s_each_pass"]) == 3
    assert max(figures["turns_per_s_each_pass"]) == figures["turns_per_s"]  # the best pass is reported
    assert figures["bare_langgraph_turns_per_s"] > 0 and figures["raw_scripted_calls_per_s"] > 0
    assert figures["transcripts_written_under"] == str(tmp_path)
    assert list(tmp_path.iterdir()) == []  # its temporary transcripts are gone


def test_transcripts_folder_falls_back_to_the_system_temp_folder(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv("GRANDROUNDS_HOME", str(tmp_path / "missing" / "home"))  # cannot be created in
    with transcripts_folder("t") as folder:
        assert folder.is_dir() and not str(folder).startswith(str(tmp_path))
    assert not folder.exists()
