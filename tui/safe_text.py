"""Text that came from a model, a scenario or a transcript, made safe to show in a terminal.

Such text is never parsed as Rich/Textual markup (callers wrap it in `rich.text.Text`), and its
control characters (terminal escape sequences among them) are shown as visible `\\xNN` escapes
instead of being sent to the terminal.
"""

from __future__ import annotations

import re
from typing import Any

from rich.text import Text

# C0 and C1 control characters except newline and tab, plus DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def visible(value: Any, *, one_line: bool = False) -> str:
    """A string safe to show: control characters made visible (ESC -> \\x1b), tabs expanded."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    text = _CONTROL.sub(lambda m: f"\\x{ord(m.group()):02x}", text).replace("\t", "    ")
    if one_line:
        text = " ".join(text.split())
    return text


def literal_text(value: Any, style: str = "") -> Text:
    """`visible(value)` as a Rich Text: printed as written, never interpreted as markup."""
    return Text(visible(value), style=style)
