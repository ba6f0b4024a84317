"""Summary statistics over seeds: mean, sample std, n and a Student-t 95% interval."""

from __future__ import annotations

import math
from collections.abc import Iterable

import numpy as np
from scipy import stats as st


def summarize(values: Iterable[float], confidence: float = 0.95) -> dict[str, float | int | None]:
    """``std`` and the interval are None for a single seed: one run says nothing about spread."""
    x = np.asarray([v for v in values if v is not None and math.isfinite(v)], dtype=float)
    n = int(x.size)
    if n == 0:
        return {"mean": None, "std": None, "n": 0, "ci_low": None, "ci_high": None}
    mean = float(x.mean())
    if n == 1:
        return {"mean": mean, "std": None, "n": 1, "ci_low": None, "ci_high": None}
    std = float(x.std(ddof=1))
    half = float(st.t.ppf((1 + confidence) / 2, n - 1) * std / math.sqrt(n))
    return {"mean": mean, "std": std, "n": n, "ci_low": mean - half, "ci_high": mean + half}
