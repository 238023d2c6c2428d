"""The demo's first two steps: pick a case from the library, then a bundled team."""

from __future__ import annotations

from rich.text import Text
from textual import work
from textual.app import ComposeResult
from textual.binding import Binding
from textual.screen import Screen
from textual.widgets import Footer, OptionList, Static
from textual.widgets.option_list import Option

from tui.app.live import CaseChoice, TeamChoice, list_cases, list_teams
from tui.app.render import literal, truncate

__all__ = ["CasePickerScreen", "TeamPickerScreen"]


class _Picker(Screen):
    CSS_PATH = "pickers.tcss"
    AUTO_FOCUS = "OptionList"
    BINDINGS = [Binding("escape", "back", "Back"), Binding("enter", "choose", "Choose", show=True)]
    TITLE_TEXT = ""

    def compose(self) -> ComposeResult:
        yield Static(Text(self.TITLE_TEXT, style="bold"), classes="picker-title", markup=False)
        yield OptionList(classes="picker-list")
        yield Static("", classes="picker-detail", markup=False)
        yield Footer(compact=True)

    def action_back(self) -> None:
        self.dismiss(None)

    def action_choose(self) -> None:
        self.query_one(OptionList).action_select()


class CasePickerScreen(_Picker):
    """Dismisses with the chosen case id (or None)."""

    TITLE_TEXT = "grandrounds demo · 1/2 pick a case"

    def __init__(self) -> None:
        super().__init__()
        self.cases: list[CaseChoice] = []

    def on_mount(self) -> None:
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            cases, problems = list_cases()
        except Exception as exc:  # noqa: BLE001 - the library is missing or broken: say so
            cases, problems = [], [f"cannot read the case library: {exc}"]
        self.app.call_from_thread(self._show, cases, problems)

    def _show(self, cases: list[CaseChoice], problems: list[str]) -> None:
        self.cases = cases
        options = self.query_one(OptionList)
        width = max(self.size.width - 30, 20)
        for case in cases:
            prompt = Text(truncate(case.title, width), style="bold")
            prompt.append(f"  {literal(case.specialty, one_line=True)}", style="dim")
            options.add_option(Option(prompt, id=case.id))
        if problems:
            self.notify(f"{len(problems)} case file(s) did not load: {literal(problems[0])}", severity="warning", markup=False)
        if not cases:
            self.query_one(".picker-detail", Static).update(Text("No cases found in the library.", style="yellow"))
        options.highlighted = 0 if cases else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        case = next((c for c in self.cases if c.id == event.option.id), None)
        if case is not None:
            text = Text(literal(case.id, one_line=True), style="cyan")
            text.append("\n" + literal(case.summary))
            self.query_one(".picker-detail", Static).update(text)

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)


class TeamPickerScreen(_Picker):
    """Dismisses with the chosen team id (or None)."""

    TITLE_TEXT = "grandrounds demo · 2/2 pick a team"

    def __init__(self, case_title: str = "") -> None:
        super().__init__()
        self.case_title = case_title
        self.teams: list[TeamChoice] = []

    def on_mount(self) -> None:
        if self.case_title:
            title = Text(self.TITLE_TEXT, style="bold")
            title.append("  for ", style="dim")
            title.append(truncate(self.case_title, max(self.size.width - 45, 10)))
            self.query_one(".picker-title", Static).update(title)
        self._load()

    @work(thread=True, exclusive=True)
    def _load(self) -> None:
        try:
            teams, problems = list_teams()
        except Exception as exc:  # noqa: BLE001
            teams, problems = [], [f"cannot read the bundled teams: {exc}"]
        self.app.call_from_thread(self._show, teams, problems)

    def _show(self, teams: list[TeamChoice], problems: list[str]) -> None:
        self.teams = teams
        options = self.query_one(OptionList)
        for team in teams:
            prompt = Text(literal(team.id, one_line=True), style="bold")
            prompt.append(f"  {literal(team.protocol)} · {team.members} members · {literal(team.model)}", style="dim")
            options.add_option(Option(prompt, id=team.id))
        if problems:
            self.notify(f"{len(problems)} team file(s) did not load: {literal(problems[0])}", severity="warning", markup=False)
        options.highlighted = 0 if teams else None

    def on_option_list_option_highlighted(self, event: OptionList.OptionHighlighted) -> None:
        team = next((t for t in self.teams if t.id == event.option.id), None)
        if team is not None:
            self.query_one(".picker-detail", Static).update(Text(literal(team.title) or team.id))

    def on_option_list_option_selected(self, event: OptionList.OptionSelected) -> None:
        self.dismiss(event.option.id)
