"""How a 0-100 score is coloured, everywhere it is shown (the TUI's screens and the CLI's tables).

green from GOOD (70) up, yellow from FAIR (40), red below; dim when the dimension was not assessed.
"""

from __future__ import annotations

GOOD = 70
FAIR = 40

__all__ = ["FAIR", "GOOD", "score_style"]


def score_style(score: float | None) -> str:
    if score is None:
        return "dim"
    if score >= GOOD:
        return "green"
    if score >= FAIR:
        return "yellow"
    return "red"
