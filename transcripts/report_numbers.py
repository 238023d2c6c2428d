"""How numbers are written in every comparison report (Markdown, CSV notes, HTML): one set of formatters."""

from __future__ import annotations

__all__ = ["fmt", "pct", "signed"]


def fmt(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:.{digits}f}"


def signed(value: float | None, digits: int = 1) -> str:
    return "-" if value is None else f"{value:+.{digits}f}"


def pct(value: float | None) -> str:
    return "-" if value is None else f"{value:.0%}"
