"""Judges: turn a measured sample into a verdict against a claim.

Every judge reduces to one rule: the claim holds when the measured quantity lies in an *accepted
region* [low, high]. A sampled quantity is represented by its 95% interval over seeds; a
deterministic one (an exact count) by its value. Then

* interval inside the region            -> ``reproduced``
* interval disjoint from the region      -> ``not reproduced``
* interval straddling a boundary          -> ``inconclusive``, with an estimate of how many more seeds
  would shrink the interval enough to decide (same spread assumed);
* a single seed of a sampled quantity has no interval -> ``inconclusive`` (needs at least 2 seeds).
"""

from __future__ import annotations

import dataclasses
import math
from typing import Any, Literal

from pydantic.dataclasses import dataclass

from harness.claims import JUDGES
from harness.claims.measures import Sample
from harness.config import STRICT, NonNegFloat
from harness.errors import HarnessError
from harness.stats import summarize

ORDER = {"reproduced": 3, "inconclusive": 2, "not reproduced": 1, "not run": 0}


@dataclasses.dataclass
class Verdict:
    verdict: str
    ours: dict[str, Any] | None  # summary statistics of the judged quantity
    region: tuple[float, float] | None
    detail: str
    more_seeds: int | None = None


def decide(sample: Sample, low: float, high: float, unit: str = "") -> Verdict:
    values = sample.values
    if any(not math.isfinite(v) for v in values):
        return Verdict("not reproduced", summarize(values), (low, high), "a seed produced a non-finite value (diverged run or undefined metric)")
    stats = summarize(values)
    if sample.deterministic:
        lo = hi = stats["mean"]
    elif stats["n"] < 2:
        return Verdict("inconclusive", stats, (low, high), "one seed gives no interval: run at least 2 seeds", more_seeds=1)
    else:
        lo, hi = stats["ci_low"], stats["ci_high"]
    if low <= lo and hi <= high:
        return Verdict("reproduced", stats, (low, high), f"{describe(lo, hi)} inside {region_text(low, high)}{unit}")
    if hi < low or lo > high:
        return Verdict("not reproduced", stats, (low, high), f"{describe(lo, hi)} outside {region_text(low, high)}{unit}")
    return Verdict("inconclusive", stats, (low, high), f"{describe(lo, hi)} straddles {region_text(low, high)}{unit}", more_seeds(stats, low, high))


def more_seeds(stats: dict[str, Any], low: float, high: float) -> int | None:
    """Seeds to add so the interval half-width fits between the mean and the nearer boundary."""
    mean, n = stats["mean"], stats["n"]
    half = stats["ci_high"] - mean
    room = min(abs(mean - b) for b in (low, high) if math.isfinite(b))
    if room == 0 or half == 0:
        return None  # the mean sits on the boundary: no number of seeds decides it
    return max(1, math.ceil(n * (half / room) ** 2) - n)


def describe(lo: float, hi: float) -> str:
    return f"{fmt(lo)}" if lo == hi else f"95% CI [{fmt(lo)}, {fmt(hi)}]"


def region_text(low: float, high: float) -> str:
    if math.isinf(high):
        return f">= {fmt(low)}"
    if math.isinf(low):
        return f"<= {fmt(high)}"
    return f"[{fmt(low)}, {fmt(high)}]"


def fmt(x: float) -> str:
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def combine(a: Sample, b: Sample, fn) -> Sample:
    """Per-seed fn(a, b): paired by seed where both are per-seed, broadcast where one is a constant."""
    if a.deterministic and b.deterministic:
        return Sample([fn(a.values[0], b.values[0])], None, True)
    if b.deterministic:
        return Sample([fn(x, b.values[0]) for x in a.values], a.seeds, False)
    if a.deterministic:
        return Sample([fn(a.values[0], y) for y in b.values], b.seeds, False)
    common = [s for s in a.seeds if s in set(b.seeds)]
    if not common:
        raise HarnessError("the two measures share no seed to pair on")
    av, bv = dict(zip(a.seeds, a.values)), dict(zip(b.seeds, b.values))
    return Sample([fn(av[s], bv[s]) for s in common], common, False)


class Judge:
    Config: type
    needs_published: bool = False
    needs_pair: bool = False

    @classmethod
    def check_claim(cls, head, cfg, where: str) -> None:
        if cls.needs_published and head.published is None:
            raise HarnessError(f"{where}: published: required by judge {cfg.kind!r}")
        is_pair = head.measure.get("kind") == "pair"
        if cls.needs_pair != is_pair:
            raise HarnessError(f"{where}: measure.kind: judge {cfg.kind!r} needs {'a pair measure' if cls.needs_pair else 'a single measure, not a pair'}")


@dataclass(config=STRICT)
class EpsilonSettings:
    kind: str
    epsilon: NonNegFloat


@JUDGES.register("epsilon")
class EpsilonJudge(Judge):
    """sotabench style: reproduced when ours >= published - epsilon (above the paper counts)."""

    Config = EpsilonSettings
    needs_published = True

    @staticmethod
    def judge(cfg, published: float, sample: Sample) -> Verdict:
        return decide(sample, published - cfg.epsilon, math.inf)


@dataclass(config=STRICT)
class ExactSettings:
    kind: str
    tolerance: NonNegFloat = 0.0  # absolute, e.g. rounding of "0.3M"
    rel_tolerance: NonNegFloat = 0.0  # relative, e.g. "~10,000x"


@JUDGES.register("exact")
class ExactJudge(Judge):
    """Counts that must match the published figure (within its printed rounding)."""

    Config = ExactSettings
    needs_published = True

    @staticmethod
    def judge(cfg, published: float, sample: Sample) -> Verdict:
        slack = max(cfg.tolerance, cfg.rel_tolerance * abs(published))
        return decide(sample, published - slack, published + slack)


@dataclass(config=STRICT)
class BoundSettings:
    kind: str
    at_most: float | None = None
    at_least: float | None = None

    def __post_init__(self) -> None:
        if self.at_most is None and self.at_least is None:
            raise ValueError("set at_most, at_least or both")


@JUDGES.register("bound")
class BoundJudge(Judge):
    """Published bounds such as "fits in < 48 GB" or "> 780 GB": ours must lie within them."""

    Config = BoundSettings

    @staticmethod
    def judge(cfg, published, sample: Sample) -> Verdict:
        low = -math.inf if cfg.at_least is None else cfg.at_least
        high = math.inf if cfg.at_most is None else cfg.at_most
        return decide(sample, low, high)


@dataclass(config=STRICT)
class RelationSettings:
    kind: str
    relation: str  # at_least: a >= b - margin (a negative margin demands a lead); within: |a - b| <= margin
    margin: float = 0.0

    def __post_init__(self) -> None:
        if self.relation not in ("at_least", "within"):
            raise ValueError(f"relation must be one of at_least, within (got {self.relation!r})")
        if self.relation == "within" and self.margin < 0:
            raise ValueError("a 'within' margin must be >= 0")


@JUDGES.register("relation")
class RelationJudge(Judge):
    """Method A against method B on the same seeds: the paired per-seed difference a - b is judged."""

    Config = RelationSettings
    needs_pair = True

    @staticmethod
    def judge(cfg, published, pair: tuple[Sample, Sample]) -> Verdict:
        diff = combine(*pair, lambda x, y: x - y)
        high = math.inf if cfg.relation == "at_least" else cfg.margin
        return decide(diff, -cfg.margin, high, unit=" (a - b)")


@dataclass(config=STRICT)
class RatioSettings:
    kind: str
    at_least: float


@JUDGES.register("ratio")
class RatioJudge(Judge):
    """Reductions: a / b >= k (e.g. full fine-tuning's trainable parameters over LoRA's)."""

    Config = RatioSettings
    needs_pair = True

    @staticmethod
    def judge(cfg, published, pair: tuple[Sample, Sample]) -> Verdict:
        ratio = combine(*pair, lambda x, y: x / y if y else math.inf)
        return decide(ratio, cfg.at_least, math.inf, unit=" (a / b)")


@dataclass(config=STRICT)
class BandSettings:
    kind: str
    of: Literal["difference", "ratio"]
    at_least: float | None = None
    at_most: float | None = None

    def __post_init__(self) -> None:
        if self.at_most is None and self.at_least is None:
            raise ValueError("set at_most, at_least or both")


@JUDGES.register("band")
class BandJudge(Judge):
    """A pair's per-seed difference (a - b) or ratio (a / b) must lie in a band: how a qualitative
    rating ("memory: low" = 0.5-0.8x full fine-tuning) becomes a testable claim."""

    Config = BandSettings
    needs_pair = True

    @staticmethod
    def judge(cfg, published, pair: tuple[Sample, Sample]) -> Verdict:
        fn = (lambda x, y: x - y) if cfg.of == "difference" else (lambda x, y: x / y if y else math.inf)
        value = combine(*pair, fn)
        low = -math.inf if cfg.at_least is None else cfg.at_least
        high = math.inf if cfg.at_most is None else cfg.at_most
        return decide(value, low, high, unit=" (a - b)" if cfg.of == "difference" else " (a / b)")
