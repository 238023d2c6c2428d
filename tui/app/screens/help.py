"""The keys, screen by screen."""

from __future__ import annotations

from rich.console import Group
from rich.table import Table
from rich.text import Text
from textual.app import ComposeResult
from textual.binding import Binding
from textual.containers import VerticalScroll
from textual.screen import ModalScreen
from textual.widgets import Static

KEYS: dict[str, list[tuple[str, str]]] = {
    "Everywhere": [
        ("?", "this help"),
        ("ctrl+p", "command palette: open a run, compare, filter, team summary"),
        ("q / ctrl+q", "quit"),
    ],
    "Runs": [
        ("↑ ↓ pgup pgdn", "move; more runs load as you near the end"),
        ("enter", "replay the run"),
        ("/", "search (words match ids, titles, teams, models, problems)"),
        ("click a header / o", "sort by that column / cycle the sort column"),
        ("r", "reverse the sort order"),
        ("m", "mark a run for comparison"),
        ("c", "compare the marked run (or the latest run of the same case by another team) with this one"),
        ("t", "team summary: mean score per dimension per team, for the runs shown"),
        ("escape", "clear the filters"),
        ("ctrl+r", "re-read changed transcripts now"),
    ],
    "Replay and live": [
        ("space", "play / pause"),
        ("→ n  /  ← p", "next / previous step"),
        ("+ / -", "faster / slower"),
        ("1-9, g", "jump to a round / ask which round"),
        ("home / end", "first / last step"),
        ("↑ ↓ pgup pgdn", "scroll the deliberation (the facts and conflicts after f)"),
        ("s", "the scorecard"),
        ("f", "facts and conflicts (narrow terminals)"),
        ("escape", "back (live: cancel the run; the transcript keeps what was said)"),
        ("ctrl+c", "live: cancel the run"),
    ],
    "Compare and team summary": [
        ("escape", "back"),
        ("b", "team summary: next batch"),
    ],
    "Demo": [
        ("↑ ↓ enter", "pick a case, then a team; the run starts"),
        ("escape", "back"),
    ],
}


def help_text() -> Group:
    """The keys, two columns per section: a long description wraps within its own column."""
    parts: list[Text | Table] = []
    for n, (section, keys) in enumerate(KEYS.items()):
        parts.append(Text(("\n" if n else "") + section, style="bold underline"))
        grid = Table.grid(padding=(0, 0))
        grid.add_column(width=22, no_wrap=True)  # "  " + the key, padded to 20 as before
        grid.add_column(ratio=1)
        for key, what in keys:
            grid.add_row(Text(f"  {key}", style="bold cyan"), Text(what))
        parts.append(grid)
    return Group(*parts)


class HelpScreen(ModalScreen[None]):
    BINDINGS = [
        Binding("escape,question_mark,q", "close", "Close"),
    ]
    DEFAULT_CSS = """
    HelpScreen { align: center middle; }
    HelpScreen > VerticalScroll {
        width: 96; max-width: 100%; height: auto; max-height: 90%;
        border: round $accent; padding: 0 1; background: $surface;
    }
    """

    def compose(self) -> ComposeResult:
        with VerticalScroll() as scroll:
            scroll.border_title = "Keys"
            yield Static(help_text(), markup=False, id="help-text")

    def action_close(self) -> None:
        self.dismiss(None)
