"""The claims registry: every published claim as data (``experiments/claims/*.yaml``), judged against results.

A claim names where its number comes from (paper, table, row, column), the published value, the
scale it applies to, what of ours it reads (a *measure*, registered by kind in
``harness/claims/measures``) and how it is judged (a *judge*, registered by kind in
``harness/claims/judges``). Loading validates every entry up front and names the claim id and the
field on error.
"""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.config import STRICT, validate
from harness.errors import HarnessError, first_line
from harness.registry import Registry

MEASURES: Registry = Registry("measure kind")
JUDGES: Registry = Registry("judge kind")
CLAIMS_DIR = Path("experiments/claims")


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
    statement: str
    source: ClaimSource
    scale: Literal["paper", "smoke"]
    published: Any
    measure: Any  # the measure kind's validated settings
    judge: Any  # the judge kind's validated settings
    requires: tuple[str, ...]  # what a paper-scale run needs that the smoke profile lacks (gpu, network, ...)
    note: str | None
    gate: bool  # held by `harness check`; false for figures that vary run to run (wall clock, RSS)
    rating: str | None  # the qualitative rating the claim tests (atlas cells: "low", "close to full", ...)


@dataclass(config=STRICT)
class ClaimHead:
    id: Annotated[str, Field(min_length=1)]
    statement: Annotated[str, Field(min_length=1)]
    source: ClaimSource
    scale: Literal["paper", "smoke"]
    measure: dict
    judge: dict
    published: float | int | None = None
    requires: list[Literal["gpu", "network", "weights", "multiple tasks", "causal-lm track", "planted-rank benchmark", "budget sweep", "atlas methods"]] = dataclasses.field(default_factory=list)
    note: str | None = None
    gate: bool = True
    rating: str | None = None


def _typed(registry: Registry, section: Any, where: str):
    if not isinstance(section, dict) or "kind" not in section:
        raise HarnessError(f"{where}.kind: required key is missing; known: {', '.join(registry.names())}")
    if section["kind"] not in registry:
        raise HarnessError(f"{where}.kind: unknown {registry.kind} {section['kind']!r}; known: {', '.join(registry.names())}")
    return validate(registry.get(section["kind"]).Config, section, where)


def typed_measure(section: Any, where: str):
    cfg = _typed(MEASURES, section, where)
    return MEASURES.get(cfg.kind).prepare(cfg, where)


def parse_claim(raw: Any, origin: str) -> Claim:
    cid = raw.get("id", "?") if isinstance(raw, dict) else "?"
    where = f"{origin}: claim {cid}"
    head = validate(ClaimHead, raw, where)
    measure = typed_measure(head.measure, f"{where}: measure")
    judge = _typed(JUDGES, head.judge, f"{where}: judge")
    JUDGES.get(judge.kind).check_claim(head, judge, where)
    return Claim(
        id=head.id, statement=head.statement, source=head.source, scale=head.scale, published=head.published,
        measure=measure, judge=judge, requires=tuple(head.requires), note=head.note, gate=head.gate, rating=head.rating,
    )


def load_claims(directory: str | Path = CLAIMS_DIR) -> list[Claim]:
    claims: list[Claim] = []
    files = sorted(Path(directory).glob("*.yaml"))
    if not files:
        raise HarnessError(f"{directory}: no claim files (*.yaml)")
    for path in files:
        try:
            raw = yaml.safe_load(path.read_text()) or []
        except yaml.YAMLError as err:
            raise HarnessError(f"{path}: not valid YAML ({first_line(err)})") from None
        if not isinstance(raw, list):
            raise HarnessError(f"{path}: expected a list of claims")
        claims += [parse_claim(entry, str(path)) for entry in raw]
    seen: set[str] = set()
    for c in claims:
        if c.id in seen:
            raise HarnessError(f"claim {c.id}: id used twice")
        seen.add(c.id)
    return claims


from harness.claims import judges, measures  # noqa: F401  (registration side effects)
