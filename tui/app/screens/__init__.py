"""The screens of the grandrounds app."""

from tui.app.screens.compare import CompareScreen, TeamSummaryScreen
from tui.app.screens.help import HelpScreen
from tui.app.screens.pickers import CasePickerScreen, TeamPickerScreen
from tui.app.screens.replay import ReplayScreen
from tui.app.screens.runs import RunsScreen

__all__ = [
    "CasePickerScreen",
    "CompareScreen",
    "HelpScreen",
    "ReplayScreen",
    "RunsScreen",
    "TeamPickerScreen",
    "TeamSummaryScreen",
]
