"""What a claim is (``experiments/claims/*.yaml`` entries, validated): its source, kind, published number
and typed measure and judge settings. A leaf of the claims package: the measure and judge kinds import
it, never the loader."""

from __future__ import annotations

import dataclasses
import re
from typing import Annotated, Any, Literal

from pydantic import Field, StrictStr
from pydantic.dataclasses import dataclass

from harness.core.errors import HarnessError
from harness.core.registry import MEASURES, Registry
from harness.core.schema import STRICT, validate

KINDS = ("measurement", "count", "transferred", "rating")
# invalid: a comparison whose arm did not learn (harness/claims/competence.py) - no evidence either way
VERDICTS = ("reproduced", "exceeded", "not reproduced", "inconclusive", "insufficient runs", "invalid", "not run")
# The kinds whose verdicts decide a component's status; a rating is shown beside them, never alone.
STATUS_KINDS = ("measurement", "count", "transferred")

_PRINTED = re.compile(r"^([+-]?\d+(?:\.(\d+))?)([KMB]?)$")
_SCALE = {"": 1.0, "K": 1e3, "M": 1e6, "B": 1e9}


@dataclasses.dataclass(frozen=True)
class Published:
    """A number as the paper printed it: its value and half a unit of its last significant digit.
    Trailing zeros of a number without a decimal point are not significant ("350 GB" -> +-5 GB)."""

    text: str
    value: float
    half_unit: float


def parse_published(text: str, where: str) -> Published:
    m = _PRINTED.match(text.replace(",", "").strip())
    if not m:
        raise HarnessError(f"{where}: published: {text!r} is not a number as printed (digits, optional decimals, optional K/M/B suffix)")
    digits, decimals, suffix = m.groups()
    scale = _SCALE[suffix]
    if decimals is not None:
        unit = 10.0 ** -len(decimals)
    else:
        stripped = digits.lstrip("+-").rstrip("0")
        unit = 10.0 ** (len(digits.lstrip("+-")) - len(stripped)) if stripped else 1.0
    return Published(text, float(digits) * scale, 0.5 * unit * scale)


@dataclass(config=STRICT)
class ClaimSource:
    paper: str
    table: str
    row: str | None = None
    column: str | None = None
    arxiv: str | None = None


@dataclasses.dataclass(frozen=True)
class Claim:
    id: str
    kind: str
    statement: str
    source: ClaimSource
    scale: Literal["paper", "smoke"]
    published: Published | None
    measure: Any  # the measure kind's validated settings
    judge: Any  # the judge kind's validated settings
    requires: tuple[str, ...]  # what a paper-scale run needs that the smoke profile lacks (gpu, network, ...)
    note: str | None
    gate: bool  # held by `harness check`; false for figures that vary run to run (wall clock, RSS)
    rating: str | None  # the qualitative rating the claim tests (atlas cells: "low", "close to full", ...)
    component: str | None  # the paper component whose status this claim bears on (experiments/components.yaml)


@dataclass(config=STRICT)
class ClaimHead:
    id: Annotated[str, Field(min_length=1)]
    kind: Literal["measurement", "count", "transferred", "rating"]
    statement: Annotated[str, Field(min_length=1)]
    source: ClaimSource
    scale: Literal["paper", "smoke"]
    measure: dict
    judge: dict
    published: StrictStr | None = None
    requires: list[Literal["gpu", "network", "weights", "causal-lm track"]] = dataclasses.field(default_factory=list)
    note: str | None = None
    gate: bool = True
    rating: str | None = None
    component: str | None = None


def typed(registry: Registry, section: Any, where: str):
    if not isinstance(section, dict) or "kind" not in section:
        raise HarnessError(f"{where}.kind: required key is missing; known: {', '.join(registry.names())}")
    if section["kind"] not in registry:
        raise HarnessError(f"{where}.kind: unknown {registry.kind} {section['kind']!r}; known: {', '.join(registry.names())}")
    return validate(registry.get(section["kind"]).Config, section, where)


def typed_measure(section: Any, where: str):
    cfg = typed(MEASURES, section, where)
    return MEASURES.get(cfg.kind).prepare(cfg, where)


def sides(measure: Any) -> list[Any]:
    """The measures a comparison compares: a pair's or a difference's two sides, a suite's every task's two; [] for a
    measure of one thing."""
    if hasattr(measure, "tasks"):
        return [side for task in measure.tasks for side in (task.a, task.b)]
    return [measure.a, measure.b] if hasattr(measure, "a") else []


def leaves(measure: Any) -> list[Any]:
    """The measures that read a result (a comparison's sides, recursively)."""
    return [leaf for side in sides(measure) for leaf in leaves(side)] if sides(measure) else [measure]
