"""`grandrounds demo`: pick a case and a team, watch the scripted council live, cancel, see the score."""

from __future__ import annotations

from pathlib import Path

from click.testing import CliRunner
from textual.widgets import OptionList

from transcripts.store import read_transcript
from tui.app import DemoOptions, GrandroundsApp
from tui.app.screens.pickers import CasePickerScreen, TeamPickerScreen
from tui.app.screens.replay import ReplayScreen
from tui.cli.main import cli

from test_tui import screen_text, wait_for


def _files(folder: Path) -> list[Path]:
    return sorted(folder.rglob("*.jsonl"))


async def test_demo_pick_case_and_team_then_watch_live_and_score(tmp_path: Path) -> None:
    app = GrandroundsApp(demo=DemoOptions(model="scripted/preferred?latency=0.01", out_dir=tmp_path))
    async with app.run_test(size=(120, 40)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, CasePickerScreen) and app.screen.cases)
        options = app.screen.query_one(OptionList)
        assert options.option_count == len(app.screen.cases) >= 5
        case = app.screen.cases[0]
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, TeamPickerScreen) and app.screen.teams)
        assert app.screen.teams[0].id == "default"
        await pilot.press("enter")
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        replay: ReplayScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: replay.live_state not in ("starting", "live", "scoring"), timeout=20)
        assert replay.live_state == "completed"
        kinds = [s.kind for s in replay.model.steps]
        assert kinds[0] == "case" and "turn" in kinds and "resolution" in kinds and kinds[-1] == "score"
        assert replay.index == len(replay.model) - 1  # followed the run to the scorecard
        await pilot.pause()
        assert "Scorecard" in screen_text(app)
        transcript = read_transcript(_files(tmp_path)[0])
        assert transcript.started.scenario_id == case.id and transcript.status == "completed"
        assert transcript.latest_score() is not None


async def test_demo_cancel_keeps_a_valid_partial_transcript(tmp_path: Path) -> None:
    app = GrandroundsApp(
        demo=DemoOptions(case="insulin-error-disclosure", team="default", model="scripted/preferred?latency=0.3", out_dir=tmp_path)
    )
    async with app.run_test(size=(100, 30)) as pilot:
        await wait_for(pilot, lambda: isinstance(app.screen, ReplayScreen))
        replay: ReplayScreen = app.screen  # type: ignore[assignment]
        await wait_for(pilot, lambda: any(s.kind == "turn" for s in replay.model.steps), timeout=30)  # slow machines: the first turn waits for imports
        await pilot.press("escape")
        await wait_for(pilot, lambda: replay.live_state not in ("starting", "live", "cancelling", "scoring"), timeout=10)
        assert replay.live_state == "interrupted"
        assert app.is_running  # the UI stayed up
        transcript = read_transcript(_files(tmp_path)[0])
        assert transcript.status == "interrupted" and not transcript.problems
        assert transcript.ended is not None and "cancel" in transcript.ended.reason


def test_view_and_demo_command_line(tmp_path: Path) -> None:
    runner = CliRunner()
    missing = runner.invoke(cli, ["view", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file or folder" in missing.output and "Traceback" not in missing.output
    not_jsonl = tmp_path / "notes.txt"
    not_jsonl.write_text("x")
    assert runner.invoke(cli, ["view", str(not_jsonl)]).exit_code == 2
    assert "Examples" in runner.invoke(cli, ["view", "--help"]).output
    help_text = runner.invoke(cli, ["demo", "--help"]).output
    assert "--model" in help_text and "Examples" in help_text
    bad_case = runner.invoke(cli, ["demo", "--case", "no-such-case"])
    assert bad_case.exit_code == 2 and "Traceback" not in bad_case.output
