"""A small dialog: which round to jump to."""

from __future__ import annotations

from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import Vertical
from textual.screen import ModalScreen
from textual.widgets import Input, Label


class GotoScreen(ModalScreen[int | None]):
    BINDINGS = [Binding("escape", "dismiss_none", "Cancel")]
    DEFAULT_CSS = """
    GotoScreen { align: center middle; }
    GotoScreen > Vertical { width: 40; height: auto; border: round $accent; padding: 0 1; background: $surface; }
    """

    def __init__(self, rounds: list[int]) -> None:
        super().__init__()
        self.rounds = rounds

    def compose(self) -> ComposeResult:
        with Vertical():
            span = f"1-{max(self.rounds)}" if self.rounds else "none yet"
            yield Label(f"Go to round ({span})", markup=False)
            yield Input(type="integer", placeholder="round number", id="round")

    def on_input_submitted(self, event: Input.Submitted) -> None:
        try:
            self.dismiss(int(event.value))
        except ValueError:
            self.dismiss(None)

    def action_dismiss_none(self) -> None:
        self.dismiss(None)
