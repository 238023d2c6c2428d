"""How the screens look: a few SVG snapshots at fixed sizes (update with --snapshot-update)."""

from __future__ import annotations

from pathlib import Path

import pytest
from textual.pilot import Pilot
from textual.widgets import Input

from tui.app import GrandroundsApp
from tui.app.screens.runs import RunsScreen
from tui_fixtures import write_run
from test_tui import wait_for


@pytest.fixture()
def runs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    monkeypatch.chdir(tmp_path)  # the title shows the folder: keep it the same in every run
    folder = Path("runs")
    write_run(folder / "b", "a", team_id="default", policy="preferred", seed=1, ts="2025-03-14T09:00:00.000+00:00")
    write_run(folder / "b", "b", team_id="cautious", policy="unacceptable", model="scripted/unacceptable", seed=1, ts="2025-03-14T10:00:00.000+00:00")
    write_run(folder / "b", "c", team_id="cautious", policy="acceptable", seed=2, ts="2025-03-14T11:00:00.000+00:00",
              scenario_id="triage-under-shortage", scenario_title="Two patients, one ICU bed")
    write_run(folder / "b", "d", team_id="default", status="failed", scored=False, seed=3, ts="2025-03-14T12:00:00.000+00:00")
    return folder


async def _ready(pilot: Pilot) -> None:
    app = pilot.app
    for widget in app.screen.query(Input):
        widget.cursor_blink = False
    await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen) and app.screen.table.row_count == 4 and not app.screen.indexing)
    await pilot.pause(0.1)


def test_runs_screen_80x24(snap_compare, runs: Path) -> None:
    assert snap_compare(GrandroundsApp(folder=runs), terminal_size=(80, 24), run_before=_ready)


def test_runs_screen_wide(snap_compare, runs: Path) -> None:
    assert snap_compare(GrandroundsApp(folder=runs), terminal_size=(160, 30), run_before=_ready)


def test_replay_mid_run_80x24(snap_compare, runs: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.loaded)
        await pilot.press("right", "right", "right", "right", "right")
        await pilot.pause(0.1)

    assert snap_compare(GrandroundsApp(transcript=runs / "b" / "a.jsonl"), terminal_size=(80, 24), run_before=run_before)


def test_replay_with_side_panels_wide(snap_compare, runs: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        await wait_for(pilot, lambda: pilot.app.screen.loaded)
        await pilot.press("2")
        await pilot.pause(0.1)

    assert snap_compare(GrandroundsApp(transcript=runs / "b" / "a.jsonl"), terminal_size=(140, 40), run_before=run_before)


def test_compare_screen(snap_compare, runs: Path) -> None:
    async def run_before(pilot: Pilot) -> None:
        await _ready(pilot)
        await pilot.press("end", "c")
        await wait_for(pilot, lambda: getattr(pilot.app.screen, "result", None) is not None)
        await pilot.pause(0.1)

    assert snap_compare(GrandroundsApp(folder=runs), terminal_size=(100, 45), run_before=run_before)
