"""Filters for the runs table: free-text search plus scenario, team, model and status pickers."""

from __future__ import annotations

from rich.text import Text
from textual.app import ComposeResult
from textual.containers import Horizontal
from textual.message import Message
from textual.timer import Timer
from textual.widgets import Input, Select

from transcripts.index import STATUSES, RunFilter
from tui.app.render import truncate

__all__ = ["FilterBar"]

_PICKERS = ("scenario", "team", "model", "status")


class FilterBar(Horizontal):
    """Posts `FilterBar.Changed` with a `RunFilter` whenever the filters change (search is debounced)."""

    class Changed(Message):
        def __init__(self, filters: RunFilter) -> None:
            super().__init__()
            self.filters = filters

    DEBOUNCE = 0.25

    def __init__(self, **kwargs: object) -> None:
        super().__init__(**kwargs)  # type: ignore[arg-type]
        self._timer: Timer | None = None
        self._quiet = False
        self._choices: dict[str, list[str]] = {"status": list(STATUSES)}

    def compose(self) -> ComposeResult:
        yield Input(placeholder="/ search runs…", id="search", compact=True)
        for name in _PICKERS:
            options = [(Text(s), s) for s in STATUSES] if name == "status" else []
            yield Select(options, prompt=name, id=f"pick-{name}", compact=True, allow_blank=True)

    # attributes down ---------------------------------------------------------------------------
    def set_choices(self, scenario: list[str], team: list[str], model: list[str]) -> None:
        """Offer these values in the pickers, keeping the current selections."""
        self._quiet = True
        try:
            for name, values in (("scenario", scenario), ("team", team), ("model", model)):
                select: Select[str] = self.query_one(f"#pick-{name}", Select)
                current = select.value
                self._choices[name] = list(values)
                select.set_options([(Text(truncate(v, 40)), v) for v in values])
                if current is not Select.NULL and current in values:
                    select.value = current
        finally:
            self.call_after_refresh(self._unquiet)

    def _unquiet(self) -> None:
        self._quiet = False

    def set_filters(self, filters: RunFilter) -> None:
        """Show `filters` in the widgets (e.g. after a command palette filter)."""
        self.query_one("#search", Input).value = filters.text or ""
        for name in _PICKERS:
            select: Select[str] = self.query_one(f"#pick-{name}", Select)
            value = getattr(filters, name)
            if value is None:
                select.clear()
            else:
                known = self._choices.get(name, [])
                if value not in known:
                    self._choices[name] = [*known, value]
                    select.set_options([(Text(truncate(v, 40)), v) for v in self._choices[name]])
                select.value = value

    @property
    def filters(self) -> RunFilter:
        values: dict[str, str | None] = {}
        for name in _PICKERS:
            value = self.query_one(f"#pick-{name}", Select).value
            values[name] = None if value is Select.NULL else str(value)
        text = self.query_one("#search", Input).value.strip()
        return RunFilter(text=text or None, **values)

    # messages up -------------------------------------------------------------------------------
    def on_input_changed(self, event: Input.Changed) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._timer = self.set_timer(self.DEBOUNCE, self._emit)

    def on_input_submitted(self, event: Input.Submitted) -> None:
        event.stop()
        if self._timer is not None:
            self._timer.stop()
        self._emit()

    def on_select_changed(self, event: Select.Changed) -> None:
        event.stop()
        if not self._quiet:
            self._emit()

    def _emit(self) -> None:
        self.post_message(self.Changed(self.filters))
