"""Turn transcript data into `rich.text.Text`: literal, sanitised, coloured. No widgets here.

Everything that came from a model, a scenario or a transcript goes through `literal()` and is
appended to a `Text` as plain text, so markup in it (`[@click=app.quit]`, `[link=...]`, an unclosed
`[bold`) is shown as typed and terminal escape sequences are shown as visible escapes.
"""

from __future__ import annotations

import zlib
from typing import Any, Iterable

from rich._wrap import divide_line
from rich.cells import cell_len
from rich.console import Console
from rich.text import Text

from scenarios.model import DIMENSIONS
from tui.safe_text import visible
from tui.score_colours import score_style

__all__ = [
    "DIMENSION_SHORT",
    "HangingText",
    "VERDICT_STYLES",
    "dim_sparkline",
    "hbar",
    "literal",
    "score_style",
    "speaker_label",
    "speaker_style",
    "truncate",
    "wrap_hanging",
]

def literal(value: Any, *, one_line: bool = False) -> str:
    """A string safe to show: control characters made visible (ESC -> \\x1b), tabs expanded."""
    return visible(value, one_line=one_line)


def truncate(value: Any, width: int) -> str:
    text = literal(value, one_line=True)
    if width <= 0:
        return ""
    return text if len(text) <= width else text[: max(width - 1, 0)] + "…"


# -- speakers -------------------------------------------------------------------------------------

_ROLE_STYLES = {
    "diagnostician": "bold #5fafff",
    "safety_critic": "bold #ff5f5f",
    "ethicist": "bold #d787ff",
    "patient_advocate": "bold #5fd787",
    "chair": "bold #ffd75f",
}
_EXTRA_STYLES = ("bold #00d7d7", "bold #ff87af", "bold #afd75f", "bold #ffaf5f", "bold #87afff", "bold #d7af87")
_ROLE_MARKS = {"diagnostician": "Dx", "safety_critic": "SC", "ethicist": "Et", "patient_advocate": "PA", "chair": "Ch"}


def speaker_style(role: str) -> str:
    """A colour per role id, the same in every run and on every screen."""
    if role in _ROLE_STYLES:
        return _ROLE_STYLES[role]
    return _EXTRA_STYLES[zlib.crc32(role.encode("utf-8", "replace")) % len(_EXTRA_STYLES)]


def speaker_label(role: str, team: dict[str, Any] | None = None) -> str:
    """The member's display name from the team, else the role id in title case."""
    if team:
        for member in [*(team.get("members") or []), team.get("chair") or {}]:
            if isinstance(member, dict) and member.get("role") == role and member.get("name"):
                return literal(member["name"], one_line=True)
    return literal(role, one_line=True).replace("_", " ").title()


def speaker_mark(role: str) -> str:
    return _ROLE_MARKS.get(role) or literal(role, one_line=True)[:2].title()


# -- scores and verdicts -----------------------------------------------------------------------------

VERDICT_STYLES = {"preferred": "bold green", "acceptable": "bold yellow", "unacceptable": "bold red"}
DIMENSION_SHORT = {d: d[0].upper() for d in DIMENSIONS}
_SPARK = " ▁▂▃▄▅▆▇█"


def verdict_style(verdict: str | None) -> str:
    return VERDICT_STYLES.get(verdict or "", "dim")


def dim_sparkline(scores: Iterable[float | None]) -> Text:
    """One block character per dimension, its height the score (· when not assessed)."""
    out = Text()
    for score in scores:
        if score is None:
            out.append("·", style="dim")
        else:
            level = max(1, min(8, round(float(score) / 100 * 8)))
            out.append(_SPARK[level], style=score_style(score))
    return out


def hbar(score: float | None, width: int = 20, style: str | None = None) -> Text:
    """A horizontal bar 0-100 in `width` cells, with eighth-block precision."""
    if score is None:
        return Text("not assessed".ljust(width)[:width], style="dim")
    value = max(0.0, min(100.0, float(score))) / 100 * width
    full = int(value)
    part = int(round((value - full) * 8))
    if part == 8:
        full, part = full + 1, 0
    bar = "█" * full + ("" if part == 0 else "▏▎▍▌▋▊▉"[part - 1])
    text = Text(bar, style=style or score_style(score))
    text.append(" " * max(0, width - len(bar)))
    return text


def fmt_score(score: float | None) -> str:
    return "  –" if score is None else f"{score:3.0f}"


def short_date(ts: str) -> str:
    """2025-03-14T09:26:53.000+00:00 -> 2025-03-14 09:26."""
    ts = literal(ts, one_line=True)
    return ts[:16].replace("T", " ") if len(ts) >= 16 else ts


# -- hanging indents ---------------------------------------------------------------------------------


class HangingText(Text):
    """A `Text` whose items keep their indent when wrapped.

        start = len(text)
        text.append("  • ")
        text.append(literal(claim))
        text.hang(start, 4)      # continuation lines start 4 cells in, under the claim's first word

    Only `wrap_hanging` knows about hangs; anything else renders it as an ordinary `Text`.
    """

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.hangs: list[tuple[int, int, int]] = []  # (start, end, indent): character range, cells

    def hang(self, start: int, indent: int | str) -> None:
        """Indent the continuation lines of what was appended since `start` by `indent` cells (or by
        the width of the string `indent`): wrapped lines, and the lines after a line break in it."""
        cells = cell_len(indent) if isinstance(indent, str) else indent
        if len(self) > start and cells > 0:
            self.hangs.append((start, len(self), cells))


def _pieces(line: Text, width: int) -> list[Text]:
    """`line` (no line breaks) cut into lines of at most `width` cells, as `Text.wrap` does."""
    pieces = list(line.divide(divide_line(line.plain, width, fold=True)))
    for piece in pieces:
        piece.rstrip_end(width)
        piece.truncate(width, overflow="fold")
    return pieces


def wrap_hanging(console: Console, text: Text, width: int) -> list[Text]:
    """Wrap `text` to `width` cells like `Text.wrap`, keeping the hanging indents of a `HangingText`."""
    hangs = getattr(text, "hangs", None)
    if not hangs:
        return list(text.wrap(console, width))
    lines: list[Text] = []
    start = 0
    for line in text.split("\n", allow_blank=True):
        hang = next(((first, indent) for first, end, indent in hangs if first <= start < end), None)
        start += len(line) + 1
        if "\t" in line.plain:
            line.expand_tabs()
        if hang is None or width - hang[1] < 8:  # too narrow to indent: wrap as usual
            lines.extend(_pieces(line, width))
            continue
        first, indent = hang
        rest = line
        if start - len(line) - 1 == first:  # the item's first line: full width, the rest indented
            offsets = divide_line(line.plain, width, fold=True)
            if not offsets:
                lines.append(line)
                continue
            head, rest = line.divide(offsets[:1])
            head.rstrip_end(width)
            lines.append(head)
        for piece in _pieces(rest, width - indent):
            piece.pad_left(indent)
            lines.append(piece)
    return lines
