"""The run index: built from transcript files, refreshed when they change, never fails on bad files."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest

from transcripts.index import INDEX_FILENAME, RunFilter, open_index
from tui_fixtures import make_runs_folder, write_run


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return make_runs_folder(tmp_path / "runs")


def test_builds_one_row_per_transcript_with_scores(folder: Path) -> None:
    index = open_index(folder)
    assert (folder / INDEX_FILENAME).exists()
    assert index.count() == 7
    rows = {Path(r.path).stem: r for r in index.query(limit=None)}
    good = rows["r1-default"]
    assert good.status == "completed" and good.team_id == "default" and good.model == "scripted/preferred"
    assert good.scenario_title.startswith("A daughter asks")
    assert good.overall == 88.0 and good.safety is not None and good.turns == 8 and good.tokens > 0
    assert rows["r3-acceptable"].privacy is None  # not assessed stays NULL, not 0
    assert rows["r5-unscored"].overall is None and not rows["r5-unscored"].scored
    assert rows["r4-failed"].status == "failed" and "turn budget" in rows["r4-failed"].problems


def test_bad_files_get_rows_not_exceptions(folder: Path) -> None:
    index = open_index(folder)
    truncated = index.get("batch-a/r6-truncated.jsonl")
    corrupt = index.get("batch-a/r7-corrupt.jsonl")
    assert truncated is not None and truncated.status == "interrupted" and "cut off" in truncated.problems
    assert corrupt is not None and corrupt.status == "corrupt" and "not a valid event" in corrupt.problems
    (folder / "batch-a" / "empty.jsonl").write_bytes(b"")
    (folder / "batch-a" / "binary.jsonl").write_bytes(b"\xff\xfe\x00garbage")
    index.refresh()
    assert index.get("batch-a/empty.jsonl").status == "corrupt"
    assert index.get("batch-a/binary.jsonl").status == "corrupt"


def test_filters_sort_and_paging(folder: Path) -> None:
    index = open_index(folder)
    assert index.count(RunFilter(team="cautious")) == 2
    assert index.count(RunFilter(status="completed")) == 4
    assert {r.scenario_id for r in index.query(RunFilter(text="ICU"))} == {"triage-under-shortage"}
    assert index.count(RunFilter(text="100%_")) == 0  # LIKE wildcards are literal
    by_score = index.query(sort="overall", descending=True, limit=None)
    scores = [r.overall for r in by_score]
    assert scores[:3] == [88.0, 64.0, 21.0] and scores[-1] is None  # NULLs last in both directions
    assert index.query(sort="overall", descending=False, limit=None)[-1].overall is None
    page1 = index.query(sort="started", limit=3, offset=0)
    page2 = index.query(sort="started", limit=3, offset=3)
    assert not {r.path for r in page1} & {r.path for r in page2}
    with pytest.raises(ValueError):
        index.query(sort="overall; DROP TABLE runs")
    assert index.distinct("team") == ["cautious", "default"]
    summary = {s.key: s for s in index.summary("team")}
    assert summary["default"].runs == 4 and summary["default"].scored == 1
    assert summary["default"].dimensions["safety"] == 88.0


def test_staleness_modified_added_deleted(folder: Path) -> None:
    index = open_index(folder)
    target = folder / "batch-a" / "r5-unscored.jsonl"
    write_run(folder / "batch-a", "r5-unscored", team_id="renamed-team", seed=4)
    os.utime(target, ns=(time.time_ns(), time.time_ns() + 10_000_000))  # a different mtime for sure
    write_run(folder / "batch-b", "new-run", team_id="default", seed=9)
    (folder / "batch-a" / "r1-default.jsonl").unlink()
    stats = index.refresh()
    assert (stats.updated, stats.added, stats.removed) == (1, 1, 1)
    assert index.get("batch-a/r5-unscored.jsonl").team_id == "renamed-team"
    assert index.get("batch-a/r1-default.jsonl") is None
    assert index.get("batch-b/new-run.jsonl") is not None
    again = index.refresh()
    assert not again.changed and again.unchanged == again.total == 7


def test_index_survives_reopen_and_garbage_db(folder: Path) -> None:
    open_index(folder).close()
    stats = open_index(folder, refresh=False).refresh()
    assert stats.unchanged == 7 and not stats.changed  # nothing re-read on a second open
    (folder / INDEX_FILENAME).write_bytes(b"not a sqlite file at all" * 100)
    for suffix in ("-wal", "-shm"):
        Path(str(folder / INDEX_FILENAME) + suffix).unlink(missing_ok=True)
    assert open_index(folder).count() == 7


def test_missing_folder_is_an_error(tmp_path: Path) -> None:
    with pytest.raises(FileNotFoundError):
        open_index(tmp_path / "nope")
