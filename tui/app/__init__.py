"""The Textual app: the runs table, replay (recorded or live), compare, team summary, help.

    GrandroundsApp(folder=Path("runs")).run()
    GrandroundsApp(transcript=Path("runs/single/x.jsonl")).run()
    GrandroundsApp(demo=DemoOptions(case="insulin-error-disclosure", model="scripted/preferred")).run()
"""

from tui.app.app import DemoOptions, GrandroundsApp

__all__ = ["DemoOptions", "GrandroundsApp"]
