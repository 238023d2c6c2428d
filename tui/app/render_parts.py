"""What the event renderers share: styles, hang widths, and lenient access to payload fields."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

LABEL = "bold"
DIM = "dim"
FIELD_HANG = 2  # continuation lines of a labelled field ("Position …") start this far in
ITEM_HANG = 10  # a scorecard item's label and reason start here, after "  {points:>7} "


def _d(value: Any) -> dict[str, Any]:
    if isinstance(value, BaseModel):  # a typed payload (turn, resolution, scorecard): render its fields
        return value.model_dump(mode="json")
    return value if isinstance(value, dict) else {}


def _l(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []
