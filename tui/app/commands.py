"""grandrounds commands in Textual's command palette (ctrl+p): open a run, compare, filter, summarise."""

from __future__ import annotations

import asyncio
from functools import partial
from typing import TYPE_CHECKING, Callable

from textual.command import DiscoveryHit, Hit, Hits, Provider
from textual.content import Content

from transcripts.index import STATUSES, RunFilter
from tui.app.render import short_date, truncate

if TYPE_CHECKING:
    from tui.app.app import GrandroundsApp

__all__ = ["GrandroundsCommands"]


class GrandroundsCommands(Provider):
    """Static commands for the current screen, plus matching runs from the index."""

    def _commands(self) -> list[tuple[str, str, Callable[[], object]]]:
        from tui.app.screens.replay import ReplayScreen
        from tui.app.screens.runs import RunsScreen

        app: GrandroundsApp = self.app  # type: ignore[assignment]
        screen = self.screen
        out: list[tuple[str, str, Callable[[], object]]] = [("Help: keys", "Every key, screen by screen", app.action_help)]
        runs = app.runs_screen()
        if runs is not None and screen is runs:
            out += [
                ("Compare: this run with the marked one", "Or with the newest run of the same case by another team", runs.action_compare),
                ("Team summary", "Mean score per dimension per team for the runs shown", runs.action_summary),
                ("Filter: clear", "Show every run", partial(runs.apply_filters, RunFilter())),
                *[
                    (f"Filter: status {status}", f"Only {status} runs", partial(runs.apply_filters, RunFilter(status=status)))
                    for status in STATUSES
                ],
                ("Sort: next column", "Cycle the sort column", runs.action_cycle_sort),
                ("Reindex", "Re-read changed transcripts now", runs.action_reindex),
            ]
        if isinstance(screen, ReplayScreen):
            out += [
                ("Replay: play / pause", "Toggle playback", screen.action_toggle_play),
                ("Replay: scorecard", "Jump to the scorecard", partial(self._run_async, screen.action_scorecard)),
                ("Replay: start", "Back to the case", partial(self._run_async, screen.action_first)),
                ("Replay: end", "The last step", partial(self._run_async, screen.action_last)),
                *[
                    (f"Replay: round {n}", f"Jump to round {n}", partial(self._run_async, partial(screen.action_round, n)))
                    for n in screen.model.rounds
                ],
            ]
            if screen.running:
                out.append(("Live: cancel the run", "The transcript keeps what was said", screen.action_cancel_run))
        return out

    def _run_async(self, action: Callable[[], object]) -> None:
        self.app.run_worker(action(), group="palette")  # type: ignore[arg-type]

    async def discover(self) -> Hits:
        for name, help_text, callback in self._commands():
            yield DiscoveryHit(name, callback, help=help_text)

    async def search(self, query: str) -> Hits:
        matcher = self.matcher(query)
        for name, help_text, callback in self._commands():
            score = matcher.match(name)
            if score > 0:
                yield Hit(score, matcher.highlight(name), callback, help=help_text)
        app: GrandroundsApp = self.app  # type: ignore[assignment]
        runs = app.runs_screen()
        if runs is None or len(query.strip()) < 2:
            return
        rows = await asyncio.to_thread(runs.index.query, RunFilter(text=query), "started", True, 12)
        for row in rows:
            label = f"Open run: {row.scenario_id or row.path} · {row.team_id} · {short_date(row.started)} · {row.status}"
            # Run data is shown as plain Content: fuzzy highlighting would parse it as markup.
            yield Hit(
                0.5,
                Content(truncate(label, 100)),
                partial(runs.open_run, row),
                text=label,
                help=truncate(row.run_id, 100),
            )
