"""The grandrounds terminal app: browse runs, replay one, watch one live, compare teams."""

from __future__ import annotations

import gc
from dataclasses import dataclass
from pathlib import Path

from textual.app import App
from textual.binding import Binding
from textual.screen import Screen

from transcripts.index import RunIndex
from tui.app.commands import GrandroundsCommands
from tui.app.live import LiveRequest
from tui.app.screens.help import HelpScreen
from tui.app.screens.pickers import CasePickerScreen, TeamPickerScreen
from tui.app.screens.replay import ReplayScreen
from tui.app.screens.runs import RunsScreen

__all__ = ["DemoOptions", "GrandroundsApp"]


@dataclass
class DemoOptions:
    case: str | None = None
    team: str | None = None
    model: str | None = None
    seed: int = 0
    out_dir: Path | None = None


class GrandroundsApp(App[None]):
    """Start with a folder (the runs table), a transcript (its replay) or demo options (live)."""

    CSS_PATH = ["app.tcss"]
    TITLE = "grandrounds"
    COMMANDS = App.COMMANDS | {GrandroundsCommands}
    COMMAND_PALETTE_BINDING = "ctrl+p"
    BINDINGS = [
        Binding("question_mark", "help", "Help"),
        Binding("q", "quit", "Quit"),
    ]

    def __init__(
        self,
        *,
        folder: Path | None = None,
        transcript: Path | None = None,
        demo: DemoOptions | None = None,
    ) -> None:
        super().__init__()
        self.folder = Path(folder) if folder else None
        self.transcript = Path(transcript) if transcript else None
        self.demo = demo
        self.index: RunIndex | None = None

    def on_mount(self) -> None:
        if self.transcript is not None:
            self.push_screen(ReplayScreen(self.transcript))
        elif self.folder is not None:
            self.index = RunIndex(self.folder)  # opening is quick; RunsScreen refreshes it in a worker
            self.push_screen(RunsScreen(self.folder, self.index))
        elif self.demo is not None:
            self.start_demo()
        self.call_after_refresh(self._freeze_startup_objects)

    def _freeze_startup_objects(self) -> None:
        """Take what is alive after the first paint (modules, the app, its first screen, all kept
        for the session) out of the garbage collector's full passes, which otherwise walk it all
        and stall a replay step for 20-50 ms every few steps. Unfrozen when the app ends.

        No collection first: it would cost 20-25 ms of the first paint to free a few thousand
        startup objects, which instead stay until the app ends."""
        gc.freeze()

    def on_unmount(self) -> None:
        gc.unfreeze()

    # screens -----------------------------------------------------------------------------------
    def runs_screen(self) -> RunsScreen | None:
        return next((s for s in self.screen_stack if isinstance(s, RunsScreen)), None)

    def action_help(self) -> None:
        if not isinstance(self.screen, HelpScreen):
            self.push_screen(HelpScreen())

    def leave(self, screen: Screen) -> None:
        """Close `screen`: back to the screen below, back to the demo's case list, or quit."""
        if self.demo is not None and isinstance(screen, ReplayScreen):
            self.pop_screen()
            self.start_demo(again=True)
        elif len(self.screen_stack) > 2:
            self.pop_screen()
        else:
            self.exit()

    async def action_quit(self) -> None:
        # A live run is cancelled first so that its transcript ends with run_ended (interrupted).
        for screen in self.screen_stack:
            if isinstance(screen, ReplayScreen) and screen.running:
                await screen.wait_for_live()
        self.exit()

    # the demo: case -> team -> live replay ---------------------------------------------------------
    def start_demo(self, again: bool = False) -> None:
        demo = self.demo
        assert demo is not None
        if demo.case and not again:
            self._demo_case_chosen(demo.case)
        else:
            self.push_screen(CasePickerScreen(), self._demo_case_chosen)

    def _demo_case_chosen(self, case: str | None) -> None:
        demo = self.demo
        assert demo is not None
        if case is None:
            self.exit()
            return
        if demo.team:
            self._demo_start(case, demo.team)
        else:
            self.push_screen(TeamPickerScreen(), lambda team: self._demo_team_chosen(case, team))

    def _demo_team_chosen(self, case: str, team: str | None) -> None:
        if team is None:
            self.push_screen(CasePickerScreen(), self._demo_case_chosen)
            return
        self._demo_start(case, team)

    def _demo_start(self, case: str, team: str) -> None:
        demo = self.demo
        assert demo is not None
        request = LiveRequest(case=case, team=team, model=demo.model, seed=demo.seed, out_dir=demo.out_dir)
        self.push_screen(ReplayScreen(live=request))
