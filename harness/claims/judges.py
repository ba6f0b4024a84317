"""Judges: the region of a quantity a claim accepts, and the verdict the evidence gives about it.

A judge turns its settings (and the published number, where the claim has one) into a :class:`Region`
[low, high] of the judged quantity: a single measure, or a pair's per-seed difference or ratio
(``of``). Two kinds:

* ``equivalence`` - "matches the paper": published (or, for a question of ours, ``target``) +- delta,
  delta = max(the stated margin, half a unit of the last digit the paper printed, the paper's own
  reported spread), so rounding alone never fails a claim and no tolerance is picked by hand. Beyond
  delta on the ``better`` side reads ``exceeded``, not "reproduced".
* ``bound`` - a relation or a band: ``at_least`` and/or ``at_most``; one-sided for a relation kept in
  the paper's direction, two-sided for a rating's band.

How the evidence decides (``harness/claims/stats.py`` has the tests):

==========================  ====================================================================
reproduced                  p_inside < alpha (two-sided region: the 90% interval inside, TOST;
                            one-sided: the one-sided 95% bound inside); an exact value inside
not reproduced / exceeded   p_outside < alpha (two-sided: the 95% interval outside; one-sided: the
                            one-sided 95% bound outside); an exact value outside
inconclusive                neither, with the seeds that would most likely decide and which way
insufficient runs           one run of a quantity that varies from seed to seed: no interval
==========================  ====================================================================

p-values are first adjusted for the many claims judged at once (``harness/claims/engine.py``).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Literal

import numpy as np
from pydantic.dataclasses import dataclass

from harness.claims.claim import Published
from harness.claims.measures import Sample, combine
from harness.claims.stats import ALPHA, Evidence, evidence, seeds_needed
from harness.core.errors import HarnessError
from harness.core.registry import JUDGES
from harness.core.schema import STRICT, NonNegFloat

# how far a verdict stands from "the claim holds"; the CI gate fails when a claim moves down
# (invalid sits with not reproduced: a comparison that was informative and no longer is, because an arm stopped
# learning, is a regression the gate must see)
ORDER = {"reproduced": 3, "exceeded": 3, "inconclusive": 2, "insufficient runs": 2, "not reproduced": 1, "invalid": 1, "not run": 0}
NEUTRAL = {"difference": 0.0, "ratio": 1.0}  # "A equals B" for a pair's difference / ratio


@dataclasses.dataclass(frozen=True)
class Region:
    low: float
    high: float
    better: Literal["higher", "lower"] | None = None  # beyond the region on this side reads "exceeded"
    delta: float | None = None  # equivalence: the half-width, and where it came from
    delta_from: str | None = None

    def contains(self, x: float) -> bool:
        return self.low <= x <= self.high

    def beyond_better(self, x: float) -> bool:
        return (self.better == "higher" and x > self.high) or (self.better == "lower" and x < self.low)

    def text(self) -> str:
        if math.isinf(self.high):
            return f">= {fmt(self.low)}"
        if math.isinf(self.low):
            return f"<= {fmt(self.high)}"
        return f"[{fmt(self.low)}, {fmt(self.high)}]"


@dataclasses.dataclass
class Verdict:
    verdict: str
    evidence: Evidence | None
    region: Region | None
    detail: str
    seeds_needed: tuple[int, str] | None = None  # (n, "inside" | "outside"): where more seeds would most likely land


def fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def quantity(of: str | None, measured: Sample | tuple[Sample, Sample]) -> Sample:
    return measured if of is None else combine(*measured, of)


def assess(sample: Sample, region: Region) -> tuple[Evidence | None, str | None]:
    """The evidence, or a verdict that needs no test (a diverged run)."""
    if any(not math.isfinite(v) for v in sample.values):
        return None, "a seed produced a non-finite value (diverged run or undefined metric)"
    if sample.bootstrap is not None:
        return bootstrap_evidence(sample.values[0], sample.bootstrap, region.low, region.high, len(sample.seeds or ())), None
    return evidence(sample.values, region.low, region.high, exact=sample.deterministic), None


def bootstrap_evidence(point: float, replicates: list[float], low: float, high: float, n: int) -> Evidence:
    """A statistic's evidence from its bootstrap distribution: percentile intervals, and as p-values the share of
    replicates on the wrong side of each bound ((k + 1) / (B + 1), never 0), combined as ``region_p_values`` combines
    the t tests: inside = the larger one-sided p over the finite bounds (TOST for a band), outside = the nearer
    bound's opposite share, doubled for a band. ``n``: the seeds behind it (the fewest of any arm)."""
    x = np.asarray(replicates, dtype=float)

    def share(mask: np.ndarray) -> float:
        return float((mask.sum() + 1) / (x.size + 1))

    inside = [share(x <= low)] if math.isfinite(low) else []
    inside += [share(x >= high)] if math.isfinite(high) else []
    two_sided = math.isfinite(low) and math.isfinite(high)
    nearer_low = math.isfinite(low) and (not math.isfinite(high) or abs(point - low) <= abs(point - high))
    outside = share(x >= low) if nearer_low else share(x <= high)
    ci90 = tuple(float(q) for q in np.quantile(x, [0.05, 0.95]))
    ci95 = tuple(float(q) for q in np.quantile(x, [0.025, 0.975]))
    return Evidence(n, point, None, "bootstrap", ci90, ci95, max(inside), min(1.0, outside * (2 if two_sided else 1)))


def classify(ev: Evidence, region: Region, adjusted: tuple[float, float] | None = None, alpha: float = ALPHA) -> Verdict:
    """The verdict from the evidence; with ``adjusted`` (p_inside, p_outside after the family's
    correction) those decide, and the detail says when the correction changed the outcome. ``alpha``: the level a
    p-value must be under to decide (a sequential plan's look sets a lower one: harness/claims/sequential.py)."""
    where = region.text()
    if ev.interval_kind in ("exact", "zero spread"):
        what = f"{fmt(ev.mean)} (exact)" if ev.interval_kind == "exact" else \
            f"{fmt(ev.mean)} on all {ev.n} seeds (zero spread: the method is deterministic given the fixed eval set)"
        if ev.interval_kind == "zero spread" and ev.mean in (region.low, region.high):
            # a quantity that varies by seed sitting exactly on a relation's boundary on every seed is a tie (two arms
            # scoring alike, typically both predicting one class): it shows neither side of "a >= b"
            return Verdict("inconclusive", ev, region, f"{what}: exactly on the boundary of {where}, a tie that bears on neither side")
        if region.contains(ev.mean):
            return Verdict("reproduced", ev, region, f"{what} inside {where}")
        return Verdict("exceeded" if region.beyond_better(ev.mean) else "not reproduced", ev, region, f"{what} outside {where}")
    if ev.interval_kind == "none":
        return Verdict("insufficient runs", ev, region, f"{ev.n} seed: a quantity that varies by seed needs at least 2 for an interval",
                       seeds_needed=(2, "inside" if region.contains(ev.mean) else "outside"))
    p_in, p_out = adjusted if adjusted is not None else (ev.p_inside, ev.p_outside)
    two_sided = math.isfinite(region.low) and math.isfinite(region.high)
    (lo90, hi90), (lo95, hi95) = ev.ci90, ev.ci95
    lower_side = math.isfinite(region.low)
    if p_in < alpha:
        shown = f"90% CI [{fmt(lo90)}, {fmt(hi90)}]" if two_sided else f"one-sided 95% bound {fmt(lo90 if lower_side else hi90)}"
        return Verdict("reproduced", ev, region, f"{shown} inside {where} ({p_text(ev.p_inside, p_in, adjusted)})")
    if p_out < alpha:
        shown = f"95% CI [{fmt(lo95)}, {fmt(hi95)}]" if two_sided else f"one-sided 95% bound {fmt(hi90 if lower_side else lo90)}"
        verdict = "exceeded" if region.beyond_better(ev.mean) else "not reproduced"
        return Verdict(verdict, ev, region, f"{shown} outside {where} ({p_text(ev.p_outside, p_out, adjusted)})")
    # the level this claim must reach inside its family: alpha scaled as the correction scaled its p-value
    inside = region.contains(ev.mean)
    raw, adj = (ev.p_inside, p_in) if inside else (ev.p_outside, p_out)
    level = alpha * raw / adj if adj > 0 else alpha
    side = "inside" if inside else "outside"
    if raw < alpha:
        detail = (f"{side} {where} at the claim's own level (p = {raw:.3g}) but not after the "
                  f"correction for the claims judged with it (adjusted p = {adj:.3g})")
    elif raw < ALPHA:  # a sequential look's level, under ALPHA: the 90% interval already clears the boundary
        detail = (f"{side} {where} at p = {raw:.3g}{f' (adjusted {adj:.3g})' if adjusted is not None else ''}, "
                  f"not under this look's level {alpha:.3g}")
    else:
        detail = f"90% CI [{fmt(lo90)}, {fmt(hi90)}] {'straddles' if two_sided else 'crosses'} {where}"
    return Verdict("inconclusive", ev, region, detail, seeds_needed=seeds_needed(ev, region.low, region.high, level))


def p_text(raw: float, used: float, adjusted: tuple[float, float] | None) -> str:
    return f"p = {raw:.3g}" if adjusted is None else f"p = {raw:.3g}, adjusted {used:.3g}"


class Judge:
    Config: type

    @classmethod
    def check_claim(cls, head, cfg, where: str) -> None:
        is_pair = head.measure.get("kind") == "pair"
        if is_pair and cfg.of is None:
            raise HarnessError(f"{where}: judge.of: a pair measure needs of: difference or ratio")
        if not is_pair and cfg.of is not None:
            raise HarnessError(f"{where}: judge.of: only a pair measure has a difference or ratio (measure.kind is {head.measure.get('kind')!r})")


@dataclass(config=STRICT)
class EquivalenceSettings:
    kind: str
    of: Literal["difference", "ratio"] | None = None
    target: float | None = None  # the centre for a question of ours (no published number)
    margin: NonNegFloat = 0.0  # a stated margin; needs its reason
    spread: NonNegFloat = 0.0  # the paper's own reported spread (e.g. "95.1 +- .2")
    better: Literal["higher", "lower"] | None = None  # which side of the paper is better (accuracy: higher)
    reason: str | None = None


@JUDGES.register("equivalence")
class EquivalenceJudge(Judge):
    """Matches the published number (or the target) within delta; beyond it on the better side: exceeded."""

    Config = EquivalenceSettings

    @classmethod
    def check_claim(cls, head, cfg, where: str) -> None:
        super().check_claim(head, cfg, where)
        if (head.published is None) == (cfg.target is None):
            raise HarnessError(f"{where}: judge: an equivalence needs either the published number or a target (not both)")
        if cfg.margin > 0 and not cfg.reason:
            raise HarnessError(f"{where}: judge.reason: a stated margin ({cfg.margin}) needs its reason")

    @staticmethod
    def region(cfg: EquivalenceSettings, published: Published | None) -> Region:
        centre = published.value if published is not None else cfg.target
        parts = {"stated margin": cfg.margin, "paper's spread": cfg.spread,
                 "half a unit of the printed last digit": published.half_unit if published is not None else 0.0}
        source, delta = max(parts.items(), key=lambda kv: kv[1])
        return Region(centre - delta, centre + delta, cfg.better, delta, source if delta > 0 else "exact")


@dataclass(config=STRICT)
class BoundSettings:
    kind: str
    of: Literal["difference", "ratio"] | None = None
    at_least: float | None = None
    at_most: float | None = None
    reason: str | None = None  # why these thresholds (ratings, non-inferiority margins)

    def __post_init__(self) -> None:
        if self.at_most is None and self.at_least is None:
            raise ValueError("set at_most, at_least or both")
        if self.at_most is not None and self.at_least is not None and self.at_least > self.at_most:
            raise ValueError(f"at_least ({self.at_least}) is above at_most ({self.at_most})")


@JUDGES.register("bound")
class BoundJudge(Judge):
    """A relation in the paper's direction (one side) or a rating's band (both sides)."""

    Config = BoundSettings

    @staticmethod
    def region(cfg: BoundSettings, published: Published | None) -> Region:
        return Region(-math.inf if cfg.at_least is None else cfg.at_least, math.inf if cfg.at_most is None else cfg.at_most)
