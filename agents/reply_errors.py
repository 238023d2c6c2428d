"""How a reply that fails validation is described: in the retry prompt and in the transcript."""

from __future__ import annotations

from pydantic import ValidationError

__all__ = ["is_json_error", "short_error"]


def is_json_error(exc: Exception) -> bool:
    return isinstance(exc, ValidationError) and any(e.get("type") == "json_invalid" for e in exc.errors())


def short_error(exc: Exception) -> str:
    if isinstance(exc, ValidationError):
        parts = []
        for err in exc.errors()[:4]:
            loc = ".".join(str(p) for p in err.get("loc", ())) or "reply"
            parts.append(f"{loc}: {err.get('msg')}")
        return "; ".join(parts)
    return str(exc).splitlines()[0] if str(exc) else type(exc).__name__
