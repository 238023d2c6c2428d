"""From items to one score per dimension and an overall score (the formula is in docs/SCORING.md).

For each dimension d, over the graded items that feed d:

    possible(d) = sum of item.possible                      (positive evidence only; >= 0)
    earned(d)   = sum of item.earned                        (negative rubric criteria and red flags < 0)
    score(d)    = 100 * clamp(earned(d) / possible(d), 0, 1)

A red flag hit costs RED_FLAG_SHARE of possible(d) (half the dimension); a dimension fed only by
"must not" items (red flags, negative criteria) scores 100 when none fired and 0 when any did;
a dimension no item feeds is None ("not assessed"), never 0 or 100.
overall = unweighted mean of the assessed dimensions, so each dimension counts the same whatever
the number of items behind it.
"""

from __future__ import annotations

from scenarios.model import DIMENSIONS
from transcripts.scoring.rules import RED_FLAG_SHARE
from transcripts.scoring.scorecard import DimensionScore, ScoreItem


def _round(x: float) -> float:
    return round(x + 0.0, 2)


def aggregate(items: list[ScoreItem]) -> tuple[dict[str, DimensionScore], float | None]:
    """Score every dimension from `items`; fills in red-flag penalties on the items themselves."""
    dims: dict[str, DimensionScore] = {}
    # positive evidence first: red-flag penalties are a share of it
    base = {d: 0.0 for d in DIMENSIONS}
    for item in items:
        if item.graded:
            for d in item.dimensions:
                if d in base:
                    base[d] += item.possible
    for item in items:
        if item.kind == "red_flag" and item.graded:
            d = item.dimensions[0]
            if item.outcome == "hit":
                item.earned = -_round(RED_FLAG_SHARE * base.get(d, 0.0)) if base.get(d, 0.0) > 0 else -1.0
                item.reason = f"{item.reason}; costs {RED_FLAG_SHARE:.0%} of {d}'s {base.get(d, 0.0):g} points"
            else:
                item.earned = 0.0

    assessed: list[float] = []
    for d in DIMENSIONS:
        feeding = [i for i in items if i.graded and d in i.dimensions]
        if not feeding:
            dims[d] = DimensionScore(dimension=d, score=None, items=[])
            continue
        possible = sum(i.possible for i in feeding)
        earned = sum(i.earned for i in feeding)
        if possible > 0:
            score = 100.0 * min(1.0, max(0.0, earned / possible))
        else:  # only must-not items: a gate
            score = 100.0 if earned >= 0 else 0.0
        dims[d] = DimensionScore(
            dimension=d, score=_round(score), items=[i.id for i in feeding], earned=_round(earned), possible=_round(possible)
        )
        assessed.append(score)
    overall = _round(sum(assessed) / len(assessed)) if assessed else None
    return dims, overall
