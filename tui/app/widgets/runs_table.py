"""The runs table: rows from the run index, a page at a time, never the whole folder at once."""

from __future__ import annotations

from dataclasses import dataclass

from rich.text import Text
from textual import work
from textual.binding import Binding
from textual.message import Message
from textual.widgets import DataTable

from scenarios.model import DIMENSIONS
from transcripts.index import RunFilter, RunIndex, RunRow
from tui.app.render import DIMENSION_SHORT, dim_sparkline, fmt_score, score_style, short_date, truncate

__all__ = ["RunsTable", "Query"]

STATUS_STYLES = {
    "completed": "green",
    "failed": "bold red",
    "interrupted": "yellow",
    "limit_reached": "magenta",
    "corrupt": "bold red reverse",
}
STATUS_SHORT = {"limit_reached": "limit", "interrupted": "interrupt", "completed": "completed"}

# column key -> index sort key
SORT_FOR_COLUMN = {
    "scenario": "scenario",
    "team": "team",
    "model": "model",
    "date": "started",
    "status": "status",
    "score": "overall",
    "dims": "overall",
}


@dataclass(frozen=True)
class Query:
    """What the table shows: set by the screen (attributes down)."""

    filters: RunFilter
    sort: str = "started"
    descending: bool = True


class RunsTable(DataTable):
    """Runs from a `RunIndex`, `PAGE` rows at a time; more load as the cursor nears the end."""

    PAGE = 200
    PREFETCH = 40

    BINDINGS = [
        Binding("home,g", "first_row", "First", show=False),
        Binding("end,G", "last_row", "Last loaded", show=False),
    ]

    class Loaded(Message):
        """A page arrived; `total` rows match the query."""

        def __init__(self, loaded: int, total: int) -> None:
            super().__init__()
            self.loaded = loaded
            self.total = total

    class OpenRun(Message):
        def __init__(self, row: RunRow) -> None:
            super().__init__()
            self.row = row

    def __init__(self, **kwargs: object) -> None:
        super().__init__(cursor_type="row", zebra_stripes=True, **kwargs)  # type: ignore[arg-type]
        self.index: RunIndex | None = None
        self.query_spec = Query(RunFilter())
        self.total = 0
        self.marked: str | None = None
        self._rows: list[RunRow] = []
        self._generation = 0
        self._loading = False
        self._narrow = False

    # public API (called by the screen) --------------------------------------------------------
    def show(self, index: RunIndex, query: Query, *, keep_cursor: bool = False) -> None:
        """Replace the rows with the first page of `query`."""
        self.index = index
        self.query_spec = query
        self._generation += 1
        self._loading = True
        keep = self.current_row().path if keep_cursor and self.current_row() else None
        self._load_page(self._generation, 0, reset=True, keep=keep)

    def current_row(self) -> RunRow | None:
        if not self._rows or self.cursor_row < 0 or self.cursor_row >= len(self._rows):
            return None
        return self._rows[self.cursor_row]

    def toggle_mark(self) -> RunRow | None:
        row = self.current_row()
        if row is None:
            return None
        previous = self.marked
        self.marked = None if previous == row.path else row.path
        for path in {previous, self.marked} - {None}:
            self._refresh_row(path)  # type: ignore[arg-type]
        return row if self.marked else None

    def marked_row(self) -> RunRow | None:
        if self.marked is None:
            return None
        return next((r for r in self._rows if r.path == self.marked), None) or (
            self.index.get(self.marked) if self.index else None
        )

    @property
    def loaded(self) -> int:
        return len(self._rows)

    # layout ------------------------------------------------------------------------------------
    def _widths(self) -> dict[str, int]:
        width = max(self.size.width or self.app.size.width, 40) - 2  # vertical scrollbar
        self._narrow = width < 110
        if self._narrow:
            fixed = {"teammodel": 16, "date": 11, "status": 9, "score": 5, "dims": 6}
        else:
            fixed = {"team": 14, "model": 22, "date": 16, "status": 13, "score": 5, "dims": 6, "turns": 5}
        padding = 2 * (len(fixed) + 1)
        scenario = max(14, width - sum(fixed.values()) - padding)
        return {"scenario": scenario, **fixed}

    def _set_columns(self) -> dict[str, int]:
        widths = self._widths()
        self.clear(columns=True)
        labels = {
            "scenario": "Scenario",
            "teammodel": "Team · model",
            "team": "Team",
            "model": "Model",
            "date": "Started",
            "status": "Status",
            "score": "Score",
            "dims": "".join(DIMENSION_SHORT[d] for d in DIMENSIONS),
            "turns": "Turns",
        }
        sort_col = {v: k for k, v in SORT_FOR_COLUMN.items() if k != "dims"}.get(self.query_spec.sort)
        for key, width in widths.items():
            label = Text(labels[key])
            if key == sort_col or (key == "teammodel" and self.query_spec.sort in ("team", "model")):
                label.append(" ▼" if self.query_spec.descending else " ▲", style="bold")
            self.add_column(label, width=width, key=key)
        return widths

    def _cells(self, row: RunRow, widths: dict[str, int]) -> list[Text]:
        mark = "● " if row.path == self.marked else ""
        scenario = Text(mark, style="bold yellow")
        room = widths["scenario"] - len(mark)
        scenario.append(truncate(row.scenario_id or row.path, room))
        if not self._narrow and row.scenario_title and room - len(scenario.plain) > 12:
            scenario.append("  ")
            scenario.append(truncate(row.scenario_title, room - len(scenario.plain) + len(mark)), style="dim")
        status = row.status
        status_text = Text(truncate(STATUS_SHORT.get(status, status) if self._narrow else status, widths["status"]), style=STATUS_STYLES.get(status, ""))
        date = short_date(row.started)
        cells: dict[str, Text] = {
            "scenario": scenario,
            "date": Text(date[5:] if self._narrow else date, style="dim"),
            "status": status_text,
            "score": Text(fmt_score(row.overall), style="bold " + score_style(row.overall), justify="right"),
            "dims": dim_sparkline(row.dimension_scores().values()) if row.scored else Text("·" * 6, style="dim"),
        }
        if "teammodel" in widths:
            model = row.model.split("/")[-1] if row.model else ""
            cells["teammodel"] = Text(truncate(f"{row.team_id} · {model}" if row.team_id else "", widths["teammodel"]))
        else:
            cells["team"] = Text(truncate(row.team_id, widths["team"]))
            cells["model"] = Text(truncate(row.model, widths["model"]), style="dim")
            cells["turns"] = Text(str(row.turns), justify="right", style="dim")
        return [cells[key] for key in widths]

    def _refresh_row(self, path: str) -> None:
        row = next((r for r in self._rows if r.path == path), None)
        if row is None:
            return
        widths = {str(c.key.value): c.width for c in self.columns.values()}
        for key, cell in zip(widths, self._cells(row, widths)):
            try:
                self.update_cell(path, key, cell)
            except Exception:  # the row scrolled out of what is loaded
                return

    # loading -----------------------------------------------------------------------------------
    @work(thread=True, group="runs-page", exclusive=False)
    def _load_page(self, generation: int, offset: int, reset: bool, keep: str | None = None) -> None:
        index = self.index
        if index is None:
            return
        spec = self.query_spec
        rows = index.query(spec.filters, sort=spec.sort, descending=spec.descending, limit=self.PAGE, offset=offset)
        total = index.count(spec.filters) if reset else self.total
        self.app.call_from_thread(self._add_page, generation, rows, total, reset, keep)

    def _add_page(self, generation: int, rows: list[RunRow], total: int, reset: bool, keep: str | None) -> None:
        if generation != self._generation:
            return  # a newer query replaced this one
        if reset:
            self._rows = []
            self._set_columns()
        widths = {str(c.key.value): c.width for c in self.columns.values()}
        known = {r.path for r in self._rows}
        fresh = [r for r in rows if r.path not in known]
        self._rows.extend(fresh)
        self.total = total
        for row in fresh:
            self.add_row(*self._cells(row, widths), key=row.path)
        self._loading = False
        if reset and keep:
            target = next((i for i, r in enumerate(self._rows) if r.path == keep), 0)
            self.move_cursor(row=target, animate=False)
        self.post_message(self.Loaded(len(self._rows), total))

    def reflow(self) -> None:
        """Re-layout for a new width (keeps the rows already loaded)."""
        if self.index is None or not self.columns:
            return
        cursor = self.cursor_row
        rows = list(self._rows)
        self._set_columns()
        widths = {str(c.key.value): c.width for c in self.columns.values()}
        self._rows = rows
        for i, row in enumerate(rows):
            self.add_row(*self._cells(row, widths), key=row.path)
        if rows:
            self.move_cursor(row=min(cursor, len(rows) - 1), animate=False)

    def action_first_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=0, animate=False)

    def action_last_row(self) -> None:
        if self.row_count:
            self.move_cursor(row=self.row_count - 1, animate=False)

    def _maybe_load_more(self, near_row: int) -> None:
        if not self._loading and len(self._rows) < self.total and near_row >= len(self._rows) - self.PREFETCH:
            self._loading = True
            self._load_page(self._generation, len(self._rows), reset=False)

    def watch_scroll_y(self, old_value: float, new_value: float) -> None:
        super().watch_scroll_y(old_value, new_value)
        # scrolling with the mouse wheel also pulls in the next page
        self._maybe_load_more(int(new_value) + self.size.height)

    # events ------------------------------------------------------------------------------------
    def on_data_table_row_highlighted(self, event: DataTable.RowHighlighted) -> None:
        self._maybe_load_more(event.cursor_row)

    def on_data_table_row_selected(self, event: DataTable.RowSelected) -> None:
        event.stop()
        row = self.current_row()
        if row is not None:
            self.post_message(self.OpenRun(row))
