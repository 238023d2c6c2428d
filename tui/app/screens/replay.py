"""Replay a deliberation step by step, from a transcript file or live as a run happens."""

from __future__ import annotations

from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Horizontal, Vertical
from textual.message import Message
from textual.screen import Screen
from textual.timer import Timer
from textual.widgets import Footer, Static
from textual.worker import Worker, WorkerState

from transcripts.events import Event, Scored
from transcripts.store import Transcript, read_transcript
from tui.app.live import LiveRequest, LiveRun
from tui.app.render import literal
from tui.app.replay_model import ReplayModel
from tui.app.screens.goto import GotoScreen
from tui.app.widgets.replay_parts import DeliberationLog, ReplayHeader, SidePanel

__all__ = ["ReplayScreen"]

SPEEDS = (0.25, 0.5, 1.0, 2.0, 4.0, 8.0)
BASE_INTERVAL = 1.6  # seconds per step at 1x


class ReplayScreen(Screen[None]):
    """Steps: the case, each turn, fact reveals, chair decisions, errors, the resolution, the end, scores."""

    CSS_PATH = "replay.tcss"
    HORIZONTAL_BREAKPOINTS = [(0, "-narrow"), (110, "-wide")]

    BINDINGS = [
        Binding("space", "toggle_play", "Play"),
        Binding("right,n", "step(1)", "Next"),
        Binding("left,p", "step(-1)", "Prev"),
        Binding("plus,equals_sign", "speed(1)", "Faster", show=False),
        Binding("minus", "speed(-1)", "Slower", show=False),
        Binding("g", "goto", "Round"),
        Binding("s", "scorecard", "Score"),
        Binding("f", "toggle_side", "Facts"),
        Binding("up", "scroll(-1)", "Scroll up", show=False),
        Binding("down", "scroll(1)", "Scroll down", show=False),
        Binding("pageup", "page(-1)", "Page up", show=False),
        Binding("pagedown", "page(1)", "Page down", show=False),
        Binding("home", "first", "Start", show=False),
        Binding("end", "last", "End", show=False),
        *[Binding(str(n), f"round({n})", f"Round {n}", show=False) for n in range(1, 10)],
        Binding("escape", "back", "Back"),
        Binding("ctrl+c", "cancel_run", "Cancel run", show=False, priority=True),
    ]

    class LiveEvent(Message):
        def __init__(self, event: Event) -> None:
            super().__init__()
            self.event = event

    class LiveDone(Message):
        def __init__(self, status: str, path: Path | None, error: str = "") -> None:
            super().__init__()
            self.status = status
            self.path = path
            self.error = error

    def __init__(self, path: Path | None = None, *, live: LiveRequest | None = None, events: list[Event] | None = None) -> None:
        super().__init__()
        self.path = Path(path) if path else None
        self.live_request = live
        self.model = ReplayModel(events or [])
        self.index = 0
        self.playing = False
        self.speed_level = SPEEDS.index(1.0)
        self.follow = True  # live: keep showing the newest step
        self.live_state: str | None = "starting" if live else None
        self.problems: list[str] = []
        self._timer: Timer | None = None
        self._live_run: LiveRun | None = None
        self._live_worker: Worker | None = None
        self.loaded = events is not None

    # layout ------------------------------------------------------------------------------------
    def compose(self) -> ComposeResult:
        yield ReplayHeader(id="replay-header")
        with Horizontal(id="replay-body"):
            with Vertical(id="main"):
                yield Static("", id="empty", markup=False)
                yield DeliberationLog(id="log")
            yield SidePanel(id="side")
        yield Footer(compact=True)

    async def on_mount(self) -> None:
        self._timer = self.set_interval(self.interval, self._tick, pause=True)
        if self.live_request is not None:
            self._start_live()
        elif self.path is not None and not self.loaded:
            self._load(self.path)
        else:
            await self.go(0)

    @property
    def speed(self) -> float:
        return SPEEDS[self.speed_level]

    @property
    def interval(self) -> float:
        return BASE_INTERVAL / self.speed

    @property
    def running(self) -> bool:
        return self.live_state in ("starting", "live", "cancelling")

    # loading a file ------------------------------------------------------------------------------
    @work(thread=True, exclusive=True, group="load")
    def _load(self, path: Path) -> None:
        transcript = read_transcript(path)
        self.app.call_from_thread(self._loaded, transcript)

    async def _loaded(self, transcript: Transcript) -> None:
        self.model = ReplayModel(transcript.events)
        self.loaded = True
        self.problems = list(transcript.problems)
        if transcript.started is None:
            self.problems.insert(0, f"{transcript.path.name} is not a readable transcript")
        for problem in self.problems[:3]:
            self.notify(literal(problem.replace(str(transcript.path), transcript.path.name)), title="Transcript problem", severity="warning", markup=False, timeout=8)
        if len(self.problems) > 3:
            self.notify(f"… and {len(self.problems) - 3} more problems", severity="warning", markup=False)
        await self.go(0)

    # navigation ----------------------------------------------------------------------------------
    async def go(self, index: int) -> None:
        """Show steps 0..index; the single place that changes what is on screen."""
        log = self.query_one(DeliberationLog)
        empty = self.query_one("#empty", Static)
        if not self.model.steps:
            text = Text("Nothing to replay yet." if self.running else "This transcript has no readable events.\n", style="bold")
            for problem in self.problems:
                text.append(literal(problem) + "\n", style="yellow")
            empty.update(text)
            empty.display = True
            self._refresh_panels()
            return
        empty.display = False
        index = max(0, min(index, len(self.model) - 1))
        self.index = index
        top = log.show_until(self.model, index)
        # the current step starts at the top of the log, with what came before above it
        if log.size.height:
            log.scroll_to(y=top, animate=False)  # its height is already known: no wait for a layout
        else:
            self.call_after_refresh(log.scroll_to, y=top, animate=False)  # not laid out yet
        self._refresh_panels()
        if self.live_request is not None:
            self.follow = index == len(self.model) - 1

    def _refresh_panels(self) -> None:
        self.query_one(SidePanel).show(self.model, self.model.state_at(self.index))
        self._refresh_header()

    def _refresh_header(self) -> None:
        self.query_one(ReplayHeader).show(
            self.model, self.index, playing=self.playing, speed=self.speed, live=self.live_state, width=self.size.width
        )

    def on_resize(self) -> None:
        self._refresh_header()

    async def action_step(self, delta: int) -> None:
        if self.playing and delta < 0:
            self._set_playing(False)
        await self.go(self.index + delta)

    def _scroll_target(self) -> DeliberationLog | SidePanel:
        # narrow terminals show the facts and conflicts instead of the log after `f`: scroll those
        if self.has_class("-narrow") and self.has_class("-show-side"):
            return self.query_one(SidePanel)
        return self.query_one(DeliberationLog)

    def action_scroll(self, direction: int) -> None:
        target = self._scroll_target()
        (target.scroll_down if direction > 0 else target.scroll_up)(animate=False)

    def action_page(self, direction: int) -> None:
        target = self._scroll_target()
        (target.scroll_page_down if direction > 0 else target.scroll_page_up)(animate=False)

    async def action_first(self) -> None:
        await self.go(0)

    async def action_last(self) -> None:
        await self.go(len(self.model) - 1)

    async def action_round(self, number: int) -> None:
        target = self.model.first_step_of_round(number)
        if target is None:
            rounds = self.model.rounds
            self.notify(f"No round {number}; this run has {len(rounds)} round{'s' if len(rounds) != 1 else ''}.", severity="warning")
            return
        await self.go(target)

    async def action_scorecard(self) -> None:
        target = self.model.last_of_kind("score")
        if target is None:
            hint = "it is being scored" if self.live_state == "scoring" else "score it with `grandrounds score`"
            self.notify(f"This run has no scorecard yet; {hint}.", markup=False)
            return
        await self.go(target)

    def action_goto(self) -> None:
        def chosen(value: int | None) -> None:
            if value is not None:
                self.run_worker(self.action_round(value), group="goto")

        self.app.push_screen(GotoScreen(self.model.rounds), chosen)

    def action_toggle_side(self) -> None:
        self.toggle_class("-show-side")

    # playback ----------------------------------------------------------------------------------
    def action_toggle_play(self) -> None:
        if not self.playing and self.index >= len(self.model) - 1 and not self.running:
            self.run_worker(self.go(0), group="rewind")  # play again from the start
        self._set_playing(not self.playing)

    def _set_playing(self, playing: bool) -> None:
        self.playing = playing
        if self._timer is not None:
            if playing:
                self._timer.reset()
                self._timer.resume()
            else:
                self._timer.pause()
        self._refresh_header()

    def action_speed(self, delta: int) -> None:
        self.speed_level = max(0, min(len(SPEEDS) - 1, self.speed_level + delta))
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_interval(self.interval, self._tick, pause=not self.playing)
        self._refresh_header()

    async def _tick(self) -> None:
        if self.index >= len(self.model) - 1:
            if not self.running:
                self._set_playing(False)
            return
        await self.go(self.index + 1)

    # leaving -------------------------------------------------------------------------------------
    def action_back(self) -> None:
        if self.running:
            self.action_cancel_run()
            return
        leave = getattr(self.app, "leave", None)
        if leave is not None:
            leave(self)
        elif len(self.app.screen_stack) > 2:
            self.app.pop_screen()
        else:
            self.app.exit()

    def action_cancel_run(self) -> None:
        if self.running and self._live_run is not None:
            self.live_state = "cancelling"
            self._live_run.cancel()
            self.notify("Cancelling the run; the transcript keeps everything said so far.", markup=False)
            self._refresh_header()
        else:
            self.app.action_help_quit()

    # live ----------------------------------------------------------------------------------------
    def _start_live(self) -> None:
        assert self.live_request is not None
        self._live_run = LiveRun(self.live_request)
        self.live_state = "starting"
        self._live_worker = self._run_live(self._live_run)

    @work(thread=True, exclusive=True, group="live", exit_on_error=False)
    def _run_live(self, live: LiveRun) -> None:
        def on_event(event: Event) -> None:
            self.post_message(self.LiveEvent(event))  # post_message is thread-safe

        try:
            result = live.run_blocking(on_event)
        except Exception as exc:  # the run could not start (bad case or team, runner missing)
            self.post_message(self.LiveDone("failed", live.path, f"{type(exc).__name__}: {exc}"))
            return
        status = getattr(result, "status", None) or "interrupted"
        self.post_message(self.LiveDone(status, live.path))

    async def on_replay_screen_live_event(self, message: LiveEvent) -> None:
        if self.live_state == "starting":
            self.live_state = "live"
        follow = self.follow or not self.model.steps
        step = self.model.add(message.event)
        if step is None:
            return
        if follow:
            await self.go(step.index)
        else:
            self._refresh_header()

    async def on_replay_screen_live_done(self, message: LiveDone) -> None:
        if message.error:
            self.live_state = "failed"
            self.notify(literal(message.error), title="The run could not start", severity="error", markup=False, timeout=15)
            self._refresh_header()
            return
        self.live_state = message.status
        self._refresh_header()
        if message.path is not None and message.path.exists():
            self.live_state = "scoring"
            self._refresh_header()
            self._score(message.path, message.status)

    @work(thread=True, exclusive=True, group="score", exit_on_error=False)
    def _score(self, path: Path, status: str) -> None:
        from tui.app.live import score_run

        error = ""
        try:
            score_run(path)
        except Exception as exc:  # the scorer refused (e.g. nothing to score): say so, keep the replay
            error = f"{type(exc).__name__}: {exc}"
        transcript = read_transcript(path)
        score = transcript.latest_score()
        self.app.call_from_thread(self._scored, score, status, error)

    async def _scored(self, score: Scored | None, status: str, error: str) -> None:
        self.live_state = status
        if score is not None:
            step = self.model.add(score)
            if step is not None:
                await self.go(step.index)
        elif error:
            self.notify(literal(error), title="Not scored", severity="warning", markup=False, timeout=10)
        self._refresh_header()

    def on_worker_state_changed(self, event: Worker.StateChanged) -> None:
        if event.worker is self._live_worker and event.state == WorkerState.ERROR:
            self.live_state = "failed"
            self._refresh_header()

    async def wait_for_live(self, timeout: float = 10.0) -> None:
        """Cancel a live run and wait until the runner has written run_ended (used before quitting)."""
        if self._live_run is not None and self.running:
            self._live_run.cancel()
        worker = self._live_worker
        if worker is not None and worker.state in (WorkerState.PENDING, WorkerState.RUNNING):
            import asyncio

            try:
                await asyncio.wait_for(worker.wait(), timeout)
            except Exception:  # noqa: BLE001 - quitting anyway
                pass
