"""Text that came from a model, a scenario or a transcript, made safe to show in a terminal.

Such text is never parsed as Rich/Textual markup (callers wrap it in `rich.text.Text`), and its
control characters (terminal escape sequences among them) are shown as visible `\\xNN` escapes
instead of being sent to the terminal. Bidirectional overrides and isolates (U+202A-U+202E,
U+2066-U+2069, which can make text read differently from what it is) and zero-width or invisible
format characters are shown as visible `\\uNNNN` escapes too.

Every command that prints text from a file or a model goes through `visible` (or `literal_text`,
or `safe_model` for a whole pydantic object); `capped` shortens echoed values in error messages.
"""

from __future__ import annotations

import re
from typing import Any

from pydantic import BaseModel
from rich.text import Text

# C0 and C1 control characters except newline and tab, plus DEL.
_CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")
# Bidi embeddings/overrides/isolates/marks, zero-width and invisible format characters, line separators.
_INVISIBLE = re.compile("[\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")
ERROR_VALUE_LIMIT = 300


def _escape(m: re.Match[str]) -> str:
    code = ord(m.group())
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def visible(value: Any, *, one_line: bool = False, limit: int | None = None) -> str:
    """A string safe to show: control, bidi and zero-width characters made visible (ESC -> \\x1b,
    U+202E -> \\u202e), tabs expanded; with `limit`, at most that many characters (see `capped`)."""
    text = value if isinstance(value, str) else ("" if value is None else str(value))
    if limit is not None:
        text = capped(text, limit)
    text = _CONTROL.sub(_escape, text).replace("\t", "    ")
    text = _INVISIBLE.sub(_escape, text)
    if one_line:
        text = " ".join(text.split())
    return text


def capped(text: str, limit: int = ERROR_VALUE_LIMIT) -> str:
    """`text` if short, else its start and end around `... (N characters omitted) ...`."""
    if len(text) <= limit:
        return text
    keep = max(limit - 40, 10)
    head, tail = keep * 2 // 3, keep // 3
    return f"{text[:head]}... ({len(text) - head - tail:,} characters omitted) ...{text[len(text) - tail:]}"


def is_safe(text: str) -> bool:
    """True when `text` holds no character `visible` would escape (newline and tab aside)."""
    return not (_CONTROL.search(text) or _INVISIBLE.search(text))


def literal_text(value: Any, style: str = "") -> Text:
    """`visible(value)` as a Rich Text: printed as written, never interpreted as markup."""
    return Text(visible(value), style=style)


def safe_model(value: Any) -> Any:
    """A display copy of a pydantic object (or list/dict/str) with every string passed through `visible`.

    The copy is not validated again: use it for showing, never for running or scoring."""
    if isinstance(value, str):
        return value if is_safe(value) else visible(value)
    if isinstance(value, BaseModel):
        update = {name: safe_model(getattr(value, name)) for name in type(value).model_fields}
        return value.model_copy(update=update)
    if isinstance(value, list):
        return [safe_model(v) for v in value]
    if isinstance(value, tuple):
        return tuple(safe_model(v) for v in value)
    if isinstance(value, dict):
        return {safe_model(k): safe_model(v) for k, v in value.items()}
    return value


_JSON_UNSAFE = re.compile("[\x7f-\x9f\u061c\u180e\u200b-\u200f\u2028-\u202e\u2060-\u2064\u2066-\u206f\ufeff\ufff9-\ufffb]")


def json_visible(text: str) -> str:
    """JSON text (from `json.dumps(..., ensure_ascii=False)`) with C1 controls, bidi and zero-width
    characters written as `\\uNNNN` escapes: the same data, nothing invisible on a terminal."""
    return _JSON_UNSAFE.sub(lambda m: f"\\u{ord(m.group()):04x}", text)
