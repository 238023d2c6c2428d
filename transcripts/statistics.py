"""The statistics of comparisons: quantiles and a deterministic percentile bootstrap of the mean."""

from __future__ import annotations

import math
import random
from collections.abc import Sequence

__all__ = ["BOOTSTRAP_RESAMPLES", "BOOTSTRAP_SEED", "CONFIDENCE", "bootstrap_ci", "quantile"]

BOOTSTRAP_RESAMPLES = 2000
BOOTSTRAP_SEED = 20240611
CONFIDENCE = 0.95


def quantile(sorted_values: Sequence[float], q: float) -> float:
    """Linear-interpolation quantile of already sorted values (numpy's default method)."""
    if not sorted_values:
        raise ValueError("quantile of an empty sample")
    pos = (len(sorted_values) - 1) * q
    lo = math.floor(pos)
    hi = math.ceil(pos)
    if lo == hi:
        return float(sorted_values[lo])
    return float(sorted_values[lo] + (sorted_values[hi] - sorted_values[lo]) * (pos - lo))


def bootstrap_ci(
    values: Sequence[float], *, resamples: int = BOOTSTRAP_RESAMPLES, seed: int = BOOTSTRAP_SEED, confidence: float = CONFIDENCE
) -> tuple[float, float]:
    """Percentile bootstrap CI of the mean. Deterministic for a given seed; (x, x) for a single value."""
    n = len(values)
    if n == 0:
        raise ValueError("bootstrap of an empty sample")
    if n == 1 or min(values) == max(values):
        return float(values[0]), float(values[0])
    rng = random.Random(seed)
    data = list(values)
    rand = rng.random
    means = sorted(sum(data[int(rand() * n)] for _ in range(n)) / n for _ in range(resamples))
    alpha = (1.0 - confidence) / 2.0
    return quantile(means, alpha), quantile(means, 1.0 - alpha)
