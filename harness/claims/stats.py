"""The statistics behind every verdict: summaries over seeds, the tests that decide a claim, multiplicity.

A claim accepts a *region* [low, high] of a quantity (one end may be infinite). Over seeds the quantity
is a sample, and two one-sided t tests (statsmodels) say where its mean lies:

* ``p_inside``: evidence that the mean lies inside the region. For a two-sided region this is the
  equivalence test (TOST: the larger of the two one-sided p-values), so ``p_inside < alpha`` exactly
  when the 90% interval lies inside; for a one-sided region it is the one-sided test at the boundary
  (the one-sided 95% bound, i.e. the same end of the 90% interval, lies inside).
* ``p_outside``: evidence that the mean lies beyond the boundary on its side. For a two-sided region
  it is doubled (either boundary could have been crossed), so ``p_outside < alpha`` exactly when the
  95% interval lies outside; for a one-sided region the one-sided 95% bound lies outside.

A quantity computed exactly (a count from configs) has no sampling error: its value is the evidence.
So does a sample with zero spread over seeds (a deterministic method on a fixed eval set) - reported
as such, never as a zero-width confidence interval.
"""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Iterable, Sequence
from typing import Literal

import numpy as np
from scipy import stats as st

ALPHA = 0.05
MAX_SEEDS_SEARCHED = 1000

IntervalKind = Literal["confidence", "exact", "zero spread", "none", "bootstrap"]


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


@dataclasses.dataclass(frozen=True)
class Evidence:
    """What the seeds say about a quantity against a region: the row a referee recomputes a verdict from."""

    n: int
    mean: float
    sd: float | None
    interval_kind: IntervalKind
    ci90: tuple[float, float] | None
    ci95: tuple[float, float] | None
    p_inside: float | None  # None when no test applies (exact value, zero spread, one seed)
    p_outside: float | None

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _one_sided_p(mean: float, sd: float, n: int, bound: float, above: bool) -> float:
    """p-value of H1 "the mean lies above ``bound``" (``above``) or below it, Student t with n - 1 df."""
    t = (mean - bound) / (sd / math.sqrt(n))
    return float(st.t.sf(t, n - 1) if above else st.t.cdf(t, n - 1))


def region_p_values(mean: float, sd: float, n: int, low: float, high: float) -> tuple[float, float]:
    """(p_inside, p_outside) for a sample of n with this mean and spread (see the module docstring)."""
    inside = [_one_sided_p(mean, sd, n, b, above) for b, above in ((low, True), (high, False)) if math.isfinite(b)]
    two_sided = math.isfinite(low) and math.isfinite(high)
    nearer_low = math.isfinite(low) and (not math.isfinite(high) or abs(mean - low) <= abs(mean - high))
    outside = _one_sided_p(mean, sd, n, low, above=False) if nearer_low else _one_sided_p(mean, sd, n, high, above=True)
    return max(inside), min(1.0, outside * (2 if two_sided else 1))


def interval(mean: float, sd: float, n: int, confidence: float) -> tuple[float, float]:
    half = float(st.t.ppf((1 + confidence) / 2, n - 1) * sd / math.sqrt(n))
    return mean - half, mean + half


def evidence(values: Sequence[float], low: float, high: float, exact: bool = False) -> Evidence:
    """The evidence a sample gives about the region [low, high]; ``exact`` for a value computed exactly."""
    x = np.asarray(values, dtype=float)
    n, mean = int(x.size), float(x.mean())
    if exact:
        return Evidence(n, mean, None, "exact", None, None, None, None)
    if n < 2:
        return Evidence(n, mean, None, "none", None, None, None, None)
    sd = float(x.std(ddof=1))
    if sd == 0.0:
        return Evidence(n, mean, 0.0, "zero spread", (mean, mean), (mean, mean), None, None)
    p_in, p_out = region_p_values(mean, sd, n, low, high)
    return Evidence(n, mean, sd, "confidence", interval(mean, sd, n, 0.90), interval(mean, sd, n, 0.95), p_in, p_out)


def seeds_needed(ev: Evidence, low: float, high: float, alpha: float = ALPHA) -> tuple[int, str] | None:
    """The smallest number of seeds at which the same mean and spread would decide, and which way:
    the t quantile is taken at the larger n (not the current one), searched upwards as MLPerf's
    convergence checker does. None when the mean sits on a boundary (no n decides) or past the search."""
    if ev.interval_kind != "confidence" or ev.sd is None:
        return None
    inside = low <= ev.mean <= high
    if ev.mean in (low, high):
        return None
    for n in range(ev.n + 1, MAX_SEEDS_SEARCHED + 1):
        p_in, p_out = region_p_values(ev.mean, ev.sd, n, low, high)
        if (p_in if inside else p_out) < alpha:
            return n, ("inside" if inside else "outside")
    return None


def adjust(p_values: Sequence[float], method: Literal["holm", "fdr_bh"]) -> list[float]:
    """Family-wise (Holm) or false-discovery-rate (Benjamini-Hochberg) adjusted p-values (statsmodels)."""
    if not p_values:
        return []
    from statsmodels.stats.multitest import multipletests

    return [float(p) for p in multipletests(list(p_values), alpha=ALPHA, method=method)[1]]
