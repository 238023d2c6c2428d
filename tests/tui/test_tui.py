"""The terminal UI, driven with the Pilot: runs table, replay, compare, team summary, help, palette."""

from __future__ import annotations

import html
import re
import time
from pathlib import Path
from typing import Callable

import pytest
from textual.pilot import Pilot

from tui.app import GrandroundsApp
from tui.app.screens.compare import CompareScreen, TeamSummaryScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.replay import ReplayScreen
from tui.app.screens.runs import RunsScreen
from tui.app.widgets.runs_table import RunsTable
from tui_fixtures import HOSTILE, make_runs_folder, write_run


def screen_text(app: GrandroundsApp) -> str:
    """What is on the terminal, as plain text (from the SVG screenshot)."""
    svg = app.export_screenshot()
    spans = re.findall(r"<text[^>]*>(.*?)</text>", svg, flags=re.S)
    return html.unescape("".join(spans)).replace("\xa0", " ")


def screen_lines(app: GrandroundsApp) -> list[str]:
    """What is on the terminal, one string per row, each piece of text at its column."""
    svg = app.export_screenshot()
    rows: dict[int, list[str]] = {}
    pattern = r'<text[^>]*? x="([\d.]+)"[^>]*?clip-path="url\(#[\w-]*?line-(\d+)\)"[^>]*>(.*?)</text>'
    for x, row, body in re.findall(pattern, svg, flags=re.S):
        line = rows.setdefault(int(row), [])
        column = round(float(x) / 12.2)  # the screenshot's cell width
        text = html.unescape(body).replace("\xa0", " ")
        line.extend(" " * (column + len(text) - len(line)))
        line[column : column + len(text)] = text
    return ["".join(rows.get(n, [])).rstrip() for n in range(max(rows, default=-1) + 1)]


async def wait_for(pilot: Pilot, condition: Callable[[], bool], timeout: float = 5.0) -> None:
    deadline = time.monotonic() + timeout
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("timed out waiting for the UI")
        await pilot.pause(0.02)


@pytest.fixture()
def folder(tmp_path: Path) -> Path:
    return make_runs_folder(tmp_path / "runs")


def runs_table(app: GrandroundsApp) -> RunsTable:
    return app.screen.query_one(RunsTable)


async def open_runs(pilot: Pilot, rows: int = 7) -> RunsTable:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, RunsScreen))
    await wait_for(pilot, lambda: runs_table(pilot.app).row_count == rows and not pilot.app.screen.indexing)
    await pilot.pause(0.05)
    return runs_table(pilot.app)


async def open_replay(pilot: Pilot) -> ReplayScreen:
    await wait_for(pilot, lambda: isinstance(pilot.app.screen, ReplayScreen) and pilot.app.screen.loaded)
    await pilot.pause()
    return pilot.app.screen  # type: ignore[return-value]


# -- runs ---------------------------------------------------------------------------------------


async def test_runs_table_lists_runs_newest_first_and_enter_opens_replay(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await open_runs(pilot)
        first = table.current_row()
        assert first is not None and first.path.endswith("r7-corrupt.jsonl") is False
        assert [r.started[:13] for r in table._rows[:2]] == ["2025-03-14T14", "2025-03-14T13"]
        text = screen_text(app)
        assert "hidden-biopsy-result" in text and "corrupt" in text and "7 runs" in text
        await pilot.press("enter")
        replay = await open_replay(pilot)
        assert replay.path == folder / first.path and replay.index == 0
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_filter_by_search_and_status_and_clear(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await open_runs(pilot)
        await pilot.press("slash")
        await pilot.press(*"ICU")
        await wait_for(pilot, lambda: table.total == 1 and table.row_count == 1)
        assert table.current_row().scenario_id == "triage-under-shortage"
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.total == 7)
        screen: RunsScreen = app.screen  # type: ignore[assignment]
        screen.query_one("#pick-status").value = "failed"
        await wait_for(pilot, lambda: table.total == 1 and table.current_row().status == "failed")
        await pilot.press("escape")
        await wait_for(pilot, lambda: table.total == 7)


async def test_sort_by_clicking_a_header_and_with_keys(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await open_runs(pilot)
        x = 0
        for column in table.columns.values():
            if str(column.key.value) == "score":
                break
            x += column.get_render_width(table)
        await pilot.click(RunsTable, offset=(x + 2, 0))
        # the sort is applied by a worker: wait for the re-sorted rows, not just the new spec
        await wait_for(pilot, lambda: app.screen.query_spec.sort == "overall" and table.row_count == 7
                       and bool(table._rows) and table._rows[0].overall is not None)
        assert [r.overall for r in table._rows[:3]] == [88.0, 64.0, 21.0]
        await pilot.press("r")  # reverse: lowest first, unscored still last
        await wait_for(pilot, lambda: table._rows and table._rows[0].overall == 21.0)
        assert table._rows[-1].overall is None
        await pilot.press("o")
        await wait_for(pilot, lambda: app.screen.query_spec.sort == "scenario")


async def test_large_folder_loads_in_pages(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    template = write_run(folder / "b", "seed-0", seed=0)
    data = template.read_text()
    for n in range(1, 450):
        (folder / "b" / f"seed-{n}.jsonl").write_text(data.replace('"seed":0', f'"seed":{n}'))
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))
        await wait_for(pilot, lambda: runs_table(app).total == 450 and runs_table(app).row_count > 0)
        table = runs_table(app)
        assert table.row_count == RunsTable.PAGE  # not all 450 rows at once
        await pilot.press("end")
        await wait_for(pilot, lambda: table.row_count >= 2 * RunsTable.PAGE)
        await pilot.press("end")
        await wait_for(pilot, lambda: table.row_count == 450)


# -- replay -------------------------------------------------------------------------------------


async def test_replay_steps_forward_back_and_jumps(tmp_path: Path) -> None:
    path = write_run(tmp_path, "run")
    app = GrandroundsApp(transcript=path)
    async with app.run_test(size=(120, 40)) as pilot:
        replay = await open_replay(pilot)
        model = replay.model
        assert [s.kind for s in model.steps[:3]] == ["case", "turn", "error"]
        await pilot.press("right", "right", "n")
        assert replay.index == 3 and model.steps[3].kind == "turn"
        assert replay.query_one("#log").shown == 4  # only what has happened is shown
        await pilot.press("left")
        assert replay.index == 2
        await pilot.press("p")
        assert replay.index == 1
        await pilot.press("2")
        assert model.steps[replay.index].round == 2 and model.steps[replay.index - 1].round == 1
        assert "round 2" in screen_text(app)
        await pilot.press("9")  # no round 9: stays, says so
        assert model.steps[replay.index].round == 2
        await pilot.press("end")
        assert replay.index == len(model) - 1
        await pilot.press("home")
        assert replay.index == 0
        await pilot.press("s")
        assert model.steps[replay.index].kind == "score"
        await pilot.pause()
        text = screen_text(app)
        assert "Scorecard" in text and "Picked ask-then-disclose" in text
        await pilot.press("g")
        await pilot.press("1", "enter")
        await wait_for(pilot, lambda: model.steps[replay.index].round == 1 and model.steps[replay.index].kind == "turn")


async def test_replay_shows_turn_details_and_side_panels(tmp_path: Path) -> None:
    path = write_run(tmp_path, "run")
    app = GrandroundsApp(transcript=path)
    async with app.run_test(size=(160, 50)) as pilot:
        replay = await open_replay(pilot)
        # step to the safety critic's turn: it asks for F4, which is then revealed
        await pilot.press("right", "right", "right")
        await pilot.pause()
        text = screen_text(app)
        assert "Safety Critic" in text and "Asks to see F4" in text
        assert "on request, not yet revealed" in text  # F4 is hidden until revealed
        await pilot.press("right")
        await pilot.pause()
        text = screen_text(app)
        assert "Staging CT: no distant metastases." in text and "revealed R1" in text
        await pilot.press("right")  # the ethicist raises C1
        await pilot.pause()
        state = replay.model.state_at(replay.index)
        c1 = next(c for c in state.conflicts if c.id == "C1")
        assert c1.raised_by == "ethicist" and c1.raised_round == 1
        assert "raised Ethicist in round 1" in screen_text(app)
        await pilot.press("end")
        await pilot.pause()
        final = replay.model.state_at(replay.index)
        assert {c.id: c.resolved_verdict for c in final.conflicts} == {"C1": "preferred", "C2": "preferred"}
        assert "resolved → ask-then-disclose" in screen_text(app)


async def test_long_claims_and_facts_wrap_with_a_hanging_indent(tmp_path: Path) -> None:
    long = " ".join(f"word{n}" for n in range(40))
    path = write_run(tmp_path, "run", hostile=long)  # a claim in every turn, and fact F3
    app = GrandroundsApp(transcript=path)
    async with app.run_test(size=(160, 50)) as pilot:
        await open_replay(pilot)
        await pilot.press("right")
        await pilot.pause()
        lines = screen_lines(app)
        claim = next(n for n, line in enumerate(lines) if "• word0 " in line)
        column = lines[claim].index("word0")
        assert lines[claim + 1].index("word") == column  # under the claim's first word, not the left edge
        assert lines[claim + 1][:column].strip(" ▌") == ""
        fact = next(n for n, line in enumerate(lines) if "F3  Interpreter note: " in line)
        column = lines[fact].index("Interpreter")
        assert lines[fact + 1].index("word") == column  # the fact's text, not under its id
        await pilot.resize_terminal(80, 24)  # narrow: the log alone, still indented
        await pilot.pause()
        lines = screen_lines(app)
        claim = next(n for n, line in enumerate(lines) if "• word0 " in line)
        assert lines[claim + 1].index("word") == lines[claim].index("word0")


async def test_replay_steps_repaint_without_a_new_layout(tmp_path: Path) -> None:
    """A step changes the log, the panels and the header in place: no widget is mounted, removed or
    resized, so the screen is never re-laid out (that made a step 50-70 ms on wide terminals)."""
    path = write_run(tmp_path, "run")
    app = GrandroundsApp(transcript=path)
    async with app.run_test(size=(200, 50)) as pilot:
        replay = await open_replay(pilot)
        await pilot.press("right")  # the first step may settle the scrollbars
        await pilot.pause()
        layouts: list[int] = []
        original = replay._refresh_layout
        replay._refresh_layout = lambda *a, **k: (layouts.append(1), original(*a, **k))  # type: ignore[method-assign]
        for _ in range(len(replay.model) - 2):
            await pilot.press("right")
        await pilot.pause()
        assert replay.index == len(replay.model) - 1 and "resolved → ask-then-disclose" in screen_text(app)
        await pilot.press("left", "left", "left", "left")
        await pilot.pause()
        assert "resolved →" not in screen_text(app)  # the panels follow the step back
        assert layouts == []


async def test_play_pause_and_speed(tmp_path: Path) -> None:
    path = write_run(tmp_path, "run")
    app = GrandroundsApp(transcript=path)
    async with app.run_test(size=(100, 30)) as pilot:
        replay = await open_replay(pilot)
        for _ in range(3):
            await pilot.press("plus")
        assert replay.speed == 8.0
        await pilot.press("space")
        assert replay.playing
        await wait_for(pilot, lambda: replay.index >= 2, timeout=3)
        await pilot.press("space")
        assert not replay.playing
        paused_at = replay.index
        await pilot.pause(0.5)
        assert replay.index == paused_at
        await pilot.press("minus")
        assert replay.speed == 4.0


async def test_markup_and_escape_sequences_are_shown_literally(tmp_path: Path) -> None:
    folder = tmp_path / "runs"
    write_run(folder, "hostile", hostile=HOSTILE, team_id="default", scenario_title=HOSTILE)
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(160, 50)) as pilot:
        table = await open_runs(pilot, rows=1)
        assert table.row_count == 1
        await pilot.press("enter")
        replay = await open_replay(pilot)
        for _ in range(6):
            await pilot.press("right")
        await pilot.pause()
        text = screen_text(app)
        assert app.is_running and app.return_code is None
        assert "[@click=app.quit]x[/]" in text
        assert "[link=https://x]y[/link]" in text
        assert "[bold unclosed" in text
        assert "\\x1b[31mred\\x1b]0;title\\x07" in text  # escapes made visible, never sent to the terminal
        log = replay.query_one("#log")
        assert all("\x1b" not in log.text_of(i).plain for i in range(log.shown))
        await pilot.click("#log")  # clicking the text fires nothing
        await pilot.pause()
        assert app.is_running


async def test_truncated_transcript_opens_with_the_problem_shown(folder: Path) -> None:
    app = GrandroundsApp(transcript=folder / "batch-a" / "r6-truncated.jsonl")
    async with app.run_test(size=(100, 30)) as pilot:
        replay = await open_replay(pilot)
        assert any("cut off" in n.message for n in app._notifications)
        await pilot.press("end")
        assert replay.model.steps[replay.index].kind == "chair"  # everything before the cut is replayed


async def test_corrupt_transcript_opens_without_crashing(folder: Path) -> None:
    app = GrandroundsApp(transcript=folder / "batch-a" / "r7-corrupt.jsonl")
    async with app.run_test(size=(100, 30)) as pilot:
        await open_replay(pilot)
        await pilot.press("right", "space", "s", "2")
        await pilot.pause()
        assert app.is_running
        assert "no readable events" in screen_text(app)
        assert any("not a readable transcript" in n.message for n in app._notifications)


# -- compare, summary, help, palette ------------------------------------------------------------


async def test_compare_two_teams_on_the_same_case(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 50)) as pilot:
        table = await open_runs(pilot)
        paths = [r.path for r in table._rows]
        table.move_cursor(row=paths.index("batch-a/r1-default.jsonl"))
        await pilot.press("m")
        table.move_cursor(row=paths.index("batch-a/r2-cautious.jsonl"))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.result is not None)
        a, b, conflicts = app.screen.result
        assert a.transcript.started.team_id == "default" and b.transcript.started.team_id == "cautious"
        c1 = next(c for c in conflicts if c.id == "C1")
        assert (c1.a_verdict, c1.b_verdict) == ("preferred", "unacceptable") and not c1.same
        assert c1.diverged_round == 1
        await pilot.pause()
        text = screen_text(app)
        assert "withhold (unacceptable)" in text and "Where they diverged" in text and "≠" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_compare_without_a_mark_picks_another_team(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_runs(pilot)
        table.move_cursor(row=[r.path for r in table._rows].index("batch-a/r2-cautious.jsonl"))
        await pilot.press("c")
        await wait_for(pilot, lambda: isinstance(app.screen, CompareScreen) and app.screen.result is not None)
        teams = {side.transcript.started.team_id for side in app.screen.result[:2]}
        assert teams == {"default", "cautious"}


async def test_team_summary_bars(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(100, 50)) as pilot:
        await open_runs(pilot)
        await pilot.press("t")
        await wait_for(pilot, lambda: isinstance(app.screen, TeamSummaryScreen) and app.screen.summary is not None)
        keys = {s.key: s for s in app.screen.summary}
        assert set(keys) == {"default", "cautious"}
        assert keys["cautious"].scored == 2 and keys["default"].scored == 1
        await pilot.pause()
        text = screen_text(app)
        assert "Team summary" in text and "accountability" in text and "█" in text


async def test_help_screen_lists_keys(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        await open_runs(pilot)
        await pilot.press("question_mark")
        await wait_for(pilot, lambda: isinstance(app.screen, HelpScreen))
        text = screen_text(app)
        assert "play / pause" in text and "jump to a round" in text
        await pilot.press("escape")
        await wait_for(pilot, lambda: isinstance(app.screen, RunsScreen))


async def test_command_palette_filters_and_opens_runs(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 40)) as pilot:
        table = await open_runs(pilot)
        await pilot.press("ctrl+p")
        await pilot.press(*"status failed")
        await pilot.pause(0.3)
        await pilot.press("enter")
        await wait_for(pilot, lambda: table.total == 1 and table.row_count == 1)
        assert table.current_row().status == "failed"
        await pilot.press("ctrl+p")
        await pilot.press(*"cautious")
        await pilot.pause(0.5)
        await pilot.press("down", "enter")  # first hit after the commands: a matching run
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen), timeout=3)


async def test_index_refresh_picks_up_new_and_deleted_files(folder: Path) -> None:
    app = GrandroundsApp(folder=folder)
    async with app.run_test(size=(120, 30)) as pilot:
        table = await open_runs(pilot)
        write_run(folder / "batch-b", "late", team_id="late-team", seed=11, ts="2025-03-15T09:00:00.000+00:00")
        (folder / "batch-a" / "r7-corrupt.jsonl").unlink()
        await pilot.press("ctrl+r")
        await wait_for(pilot, lambda: not app.screen.indexing and table.total == 7 and table.row_count == 7)
        assert table._rows[0].team_id == "late-team"
        assert all(r.status != "corrupt" for r in table._rows)
