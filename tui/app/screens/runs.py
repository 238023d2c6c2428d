"""The runs in a folder: a sortable, filterable table backed by the run index."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import DataTable, Footer, Input, Static

from transcripts.index import RefreshStats, RunFilter, RunIndex, RunRow
from tui.app.render import literal, truncate
from tui.app.widgets.filter_bar import FilterBar
from tui.app.widgets.runs_table import SORT_FOR_COLUMN, Query, RunsTable

__all__ = ["RunsScreen"]

SORT_CYCLE = ("started", "overall", "scenario", "team", "model", "status")


class RunsScreen(Screen[None]):
    CSS_PATH = "runs.tcss"
    AUTO_FOCUS = "RunsTable"

    BINDINGS = [
        Binding("enter", "open", "Replay", show=True),
        Binding("slash", "search", "Search"),
        Binding("o", "cycle_sort", "Sort"),
        Binding("r", "reverse", "Reverse"),
        Binding("m", "mark", "Mark"),
        Binding("c", "compare", "Compare"),
        Binding("t", "summary", "Teams"),
        Binding("escape", "clear_filters", "Clear filters", show=False),
        Binding("ctrl+r", "reindex", "Reindex", show=False),
    ]

    def __init__(self, folder: Path, index: RunIndex) -> None:
        super().__init__()
        self.folder = Path(folder)
        self.index = index
        self.query_spec = Query(RunFilter())
        self.indexing = False
        self.last_refresh: RefreshStats | None = None

    def compose(self) -> ComposeResult:
        yield Static(id="runs-title", markup=False)
        yield FilterBar(id="filters")
        yield RunsTable(id="runs")
        yield Static(id="run-detail", markup=False)
        yield Footer(compact=True)

    def on_mount(self) -> None:
        title = Text("grandrounds ", style="bold")
        title.append("runs in ", style="dim")
        title.append(literal(str(self.folder), one_line=True))
        self.query_one("#runs-title", Static).update(title)
        # Paint what the index already knows, then bring it up to date in the background.
        self.show_runs()
        self._load_choices()
        self.refresh_index()

    # data --------------------------------------------------------------------------------------
    @property
    def table(self) -> RunsTable:
        return self.query_one(RunsTable)

    def show_runs(self, *, keep_cursor: bool = False) -> None:
        self.table.show(self.index, self.query_spec, keep_cursor=keep_cursor)

    @work(thread=True, exclusive=True, group="index-refresh")
    def refresh_index(self) -> None:
        self.indexing = True
        last = [0.0]

        def progress(done: int, total: int) -> None:
            import time

            now = time.monotonic()
            if total and (now - last[0] > 0.2 or done == total):
                last[0] = now
                self.app.call_from_thread(self._progress, done, total)

        stats = self.index.refresh(progress)
        self.app.call_from_thread(self._refreshed, stats)

    def _progress(self, done: int, total: int) -> None:
        self._set_detail(Text(f"indexing transcripts: {done:,}/{total:,} read", style="yellow"))

    def _refreshed(self, stats: RefreshStats) -> None:
        self.indexing = False
        self.last_refresh = stats
        if stats.changed:
            self.show_runs(keep_cursor=True)
            self._load_choices()
        self._show_detail()
        bad = self.index.count(RunFilter(status="corrupt"))
        if bad:
            self.notify(
                f"{bad} file(s) could not be read as transcripts; they are listed with status 'corrupt'.",
                title="Unreadable transcripts",
                severity="warning",
                markup=False,
            )

    @work(thread=True, exclusive=True, group="choices")
    def _load_choices(self) -> None:
        choices = (self.index.distinct("scenario"), self.index.distinct("team"), self.index.distinct("model"))
        self.app.call_from_thread(self.query_one(FilterBar).set_choices, *choices)

    # messages from the widgets ------------------------------------------------------------------
    def on_filter_bar_changed(self, message: FilterBar.Changed) -> None:
        self.query_spec = replace(self.query_spec, filters=message.filters)
        self.show_runs()

    def on_runs_table_loaded(self, message: RunsTable.Loaded) -> None:
        self._show_detail()

    def on_runs_table_open_run(self, message: RunsTable.OpenRun) -> None:
        self.open_run(message.row)

    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._show_detail()

    def on_data_table_header_selected(self, event: DataTable.HeaderSelected) -> None:
        key = str(event.column_key.value)
        sort = SORT_FOR_COLUMN.get(key, "team" if key == "teammodel" else "started")
        descending = not self.query_spec.descending if sort == self.query_spec.sort else sort in ("started", "overall")
        self.query_spec = replace(self.query_spec, sort=sort, descending=descending)
        self.show_runs()

    # the line under the table --------------------------------------------------------------------
    def _show_detail(self) -> None:
        table = self.table
        text = Text()
        shown = f"{table.total:,} run{'s' if table.total != 1 else ''}"
        if not self.query_spec.filters.is_empty():
            shown += " (filtered)"
        text.append(shown, style="bold")
        if table.loaded < table.total:
            text.append(f" · {table.loaded:,} loaded", style="dim")
        order = "↓" if self.query_spec.descending else "↑"
        text.append(f" · sorted by {self.query_spec.sort} {order}", style="dim")
        if self.indexing:
            text.append(" · indexing…", style="yellow")
        row = table.current_row()
        if row is not None:
            text.append("\n")
            text.append(truncate(row.run_id or row.path, max(self.size.width - 4, 20)), style="cyan")
            if row.problems:
                text.append("\n")
                text.append(truncate(row.problems, max(self.size.width * 2 - 4, 20)), style="yellow")
            elif row.scenario_title:
                text.append("\n")
                text.append(truncate(row.scenario_title, max(self.size.width - 4, 20)), style="dim")
        elif table.total == 0 and not self.indexing:
            text.append("\n")
            text.append("No runs here. Start one with `grandrounds run CASE` or try `grandrounds demo`." if self.query_spec.filters.is_empty() else "No run matches the filters (escape clears them).", style="dim")
        self._set_detail(text)

    def _set_detail(self, text: Text) -> None:
        self.query_one("#run-detail", Static).update(text)

    def on_resize(self) -> None:
        self.table.reflow()
        self._show_detail()

    # actions -------------------------------------------------------------------------------------
    def open_run(self, row: RunRow) -> None:
        from tui.app.screens.replay import ReplayScreen

        self.app.push_screen(ReplayScreen(row.full_path(self.folder)))

    def action_open(self) -> None:
        row = self.table.current_row()
        if row is not None:
            self.open_run(row)

    def action_search(self) -> None:
        self.query_one("#search", Input).focus()

    def action_cycle_sort(self) -> None:
        current = self.query_spec.sort
        nxt = SORT_CYCLE[(SORT_CYCLE.index(current) + 1) % len(SORT_CYCLE)] if current in SORT_CYCLE else SORT_CYCLE[0]
        self.query_spec = replace(self.query_spec, sort=nxt, descending=nxt in ("started", "overall"))
        self.show_runs()
        self.notify(f"Sorted by {nxt}", timeout=1.5)

    def action_reverse(self) -> None:
        self.query_spec = replace(self.query_spec, descending=not self.query_spec.descending)
        self.show_runs()

    def action_clear_filters(self) -> None:
        if self.focused is not None and isinstance(self.focused, Input) and self.focused.value:
            self.focused.value = ""
        self.apply_filters(RunFilter())
        self.table.focus()

    def apply_filters(self, filters: RunFilter) -> None:
        """Set the filters from outside (the command palette) and show the result."""
        self.query_one(FilterBar).set_filters(filters)
        self.query_spec = replace(self.query_spec, filters=filters)
        self.show_runs()

    def action_mark(self) -> None:
        row = self.table.toggle_mark()
        if row is not None:
            self.notify("Marked for comparison; move to another run and press c.", markup=False, timeout=3)

    def action_compare(self) -> None:
        current = self.table.current_row()
        if current is None:
            return
        marked = self.table.marked_row()
        other = marked if marked is not None and marked.path != current.path else self._partner(current)
        if other is None:
            self.notify("Mark a run with m, then press c on another run to compare them.", markup=False)
            return
        from tui.app.screens.compare import CompareScreen

        self.app.push_screen(CompareScreen(other.full_path(self.folder), current.full_path(self.folder)))

    def _partner(self, row: RunRow) -> RunRow | None:
        """The newest run of the same case by another team (or, failing that, another model)."""
        if not row.scenario_id:
            return None
        candidates = self.index.query(RunFilter(scenario=row.scenario_id), sort="started", limit=500)
        for test in (lambda r: r.team_id != row.team_id, lambda r: r.model != row.model, lambda r: r.path != row.path):
            found = next((r for r in candidates if r.path != row.path and test(r) and r.status != "corrupt"), None)
            if found is not None:
                return found
        return None

    def action_summary(self) -> None:
        from tui.app.screens.compare import TeamSummaryScreen

        self.app.push_screen(TeamSummaryScreen(self.index, self.query_spec.filters))

    def action_reindex(self) -> None:
        self.refresh_index()
