"""The claims registry: every claim as data (``experiments/claims/*.yaml``), judged against results.

A claim names where it comes from (paper, table, row, column), its *kind*, what of ours it reads (a
*measure*, registered by kind in ``harness/claims/measures``) and how it is judged (a *judge*,
registered by kind in ``harness/claims/judges``). The kinds keep a paper's verdict apart from our own
questions, and the headline counts them apart:

* ``measurement`` - a paper-scale figure the paper printed, rerun at the paper's scale (or the paper's
  own relation between two such figures);
* ``count`` - an exact count computed from architecture configs (parameters, bytes, analytic memory);
* ``transferred`` - the paper's relation (A beats B, A equals B) asked at our scale, in the paper's
  direction and with no margin of ours;
* ``rating`` - a question of ours: an atlas rating's band, a non-inferiority margin, a check of the
  harness's own models. It states its thresholds' reason and never decides a component alone.

``published`` holds only a number a paper printed, as printed (a quoted string keeps its last digit,
which sets the rounding an equivalence allows), with table, row and column. Loading validates every
entry up front and names the claim id and the field on error; :func:`load_claims` also checks that
every profile, run, paperscale entry and field a measure names exists, suggesting the closest names,
and that no measurement is judged by two claims.
"""

from __future__ import annotations

import dataclasses
import difflib
import json
import re
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal

import yaml
from pydantic import Field, StrictStr
from pydantic.dataclasses import dataclass

from harness.config import STRICT, validate
from harness.errors import HarnessError, first_line
from harness.registry import Registry

MEASURES: Registry = Registry("measure kind")
JUDGES: Registry = Registry("judge kind")
CLAIMS_DIR = Path("experiments/claims")
COMPONENTS = Path("experiments/components.yaml")
KINDS = ("measurement", "count", "transferred", "rating")
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


def _typed(registry: Registry, section: Any, where: str):
    if not isinstance(section, dict) or "kind" not in section:
        raise HarnessError(f"{where}.kind: required key is missing; known: {', '.join(registry.names())}")
    if section["kind"] not in registry:
        raise HarnessError(f"{where}.kind: unknown {registry.kind} {section['kind']!r}; known: {', '.join(registry.names())}")
    return validate(registry.get(section["kind"]).Config, section, where)


def typed_measure(section: Any, where: str):
    cfg = _typed(MEASURES, section, where)
    return MEASURES.get(cfg.kind).prepare(cfg, where)


def leaves(measure: Any) -> list[Any]:
    """The measures that read a result (a pair's or a difference's two sides, recursively)."""
    return [leaf for side in (measure.a, measure.b) for leaf in leaves(side)] if hasattr(measure, "a") else [measure]


def _check_kind(head: ClaimHead, measure: Any, judge: Any, where: str) -> None:
    """What each kind may hold: a published number only where a paper printed it, a paper's relation
    only in its direction, a margin of ours only with its reason."""
    if head.published is not None:
        if head.kind not in ("measurement", "count"):
            raise HarnessError(f"{where}: published: a {head.kind} claim holds no published number (only measurement and count claims do)")
        if not (head.source.row and head.source.column):
            raise HarnessError(f"{where}: source: a published number needs the table, row and column it was printed in")
    if head.kind == "measurement" and head.scale != "paper":
        raise HarnessError(f"{where}: scale: a measurement claim is at paper scale (a smoke-scale question is transferred or a rating)")
    if head.kind in ("transferred", "rating") and head.scale != "smoke":
        raise HarnessError(f"{where}: scale: a {head.kind} claim is asked at our (smoke) scale")
    if head.kind == "count" and any(leaf.kind != "paperscale" for leaf in leaves(measure)):
        raise HarnessError(f"{where}: measure: a count claim reads exact counts (measure kind paperscale)")
    if head.kind in ("measurement", "transferred") and judge.kind == "bound":
        sides = [x for x in (judge.at_least, judge.at_most) if x is not None]
        if len(sides) != 1 or (judge.of is not None and sides[0] != NEUTRAL[judge.of]):
            raise HarnessError(f"{where}: judge: a {head.kind} relation keeps the paper's: one side at "
                               f"{'a - b = 0' if judge.of == 'difference' else 'a / b = 1'}; another threshold is a rating")
    if head.kind == "rating" and not judge.reason:
        raise HarnessError(f"{where}: judge.reason: a rating states why its thresholds are what they are")
    if judge.kind == "equivalence" and judge.target is not None and head.kind in ("measurement", "count"):
        raise HarnessError(f"{where}: judge.target: a {head.kind} claim is judged against the published number")


def parse_claim(raw: Any, origin: str) -> Claim:
    cid = raw.get("id", "?") if isinstance(raw, dict) else "?"
    where = f"{origin}: claim {cid}"
    head = validate(ClaimHead, raw, where)
    measure = typed_measure(head.measure, f"{where}: measure")
    judge = _typed(JUDGES, head.judge, f"{where}: judge")
    JUDGES.get(judge.kind).check_claim(head, judge, where)
    published = None if head.published is None else parse_published(head.published, where)
    _check_kind(head, measure, judge, where)
    return Claim(
        id=head.id, kind=head.kind, statement=head.statement, source=head.source, scale=head.scale, published=published,
        measure=measure, judge=judge, requires=tuple(head.requires), note=head.note, gate=head.gate, rating=head.rating,
        component=head.component,
    )


def closest(name: str, known: list[str]) -> str:
    near = difflib.get_close_matches(name, known, n=3, cutoff=0.5)
    return f"closest: {', '.join(near)}" if near else f"known: {', '.join(sorted(known)[:12])}{' ...' if len(known) > 12 else ''}"


@cache
def profile_runs(profile: str, root: Path) -> dict[str, set[str]]:
    """The runs a profile's params define, per results file: what a claim's run measure may name."""
    from harness.causal.evaluation import ICL
    from harness.config import load_params

    for path, name in profile_files(root):
        if name == profile:
            p = load_params(path)
            causal = list(p.causal.runs) if p.causal else []
            return {"train": set(p.train), "eval": set(p.train), "truncate": set(p.truncate.runs) if p.truncate else set(),
                    "planted": set(p.planted.tasks) if p.planted else set(), "causal_train": set(causal),
                    "causal_eval": {*causal, ICL} if p.causal else set()}
    raise KeyError(profile)


def profile_files(root: Path) -> list[tuple[Path, str]]:
    """Every params file a claim's profile can name (params.yaml first) with the profile name it declares."""
    files = [root / "params.yaml", *sorted((root / "experiments" / "profiles").glob("*.yaml"))]
    return [(f, (yaml.safe_load(f.read_text()) or {}).get("profile", "smoke")) for f in files if f.is_file()]


def known_profiles(root: Path) -> list[str]:
    return [name for _, name in profile_files(root)]


def check_references(claims: list[Claim], root: Path, check_runs: bool = True) -> None:
    """Every profile, run, paperscale entry and field a measure names exists: a typo is an error naming
    the closest names, never a claim that reads "not run" forever. ``check_runs=False`` (the stages) lets a
    params file that configures fewer runs (an experiment) judge the claims of the missing ones "not run";
    ``harness validate`` and the test suite check the repository's params with runs included."""
    from harness.claims.measures import PAPERSCALE_FIELDS

    spec = yaml.safe_load((root / "experiments" / "paperscale.yaml").read_text()) or {}
    entries = [*spec.get("entries", {}), "quantization"]
    from harness.claims.components import load_components

    components = load_components(root / COMPONENTS)
    seen: dict[str, str] = {}
    for c in claims:
        where = f"claim {c.id}"
        if c.component is not None and c.component not in components:
            raise HarnessError(f"{where}: component: unknown {c.component!r}; {closest(c.component, list(components))} ({COMPONENTS})")
        for leaf in leaves(c.measure):
            if leaf.kind == "paperscale":
                if leaf.key not in entries:
                    raise HarnessError(f"{where}: measure.key: no paperscale entry {leaf.key!r}; {closest(leaf.key, entries)}")
                fields = PAPERSCALE_FIELDS["quantization" if leaf.key == "quantization" else "entry"]
                if leaf.field not in fields:
                    raise HarnessError(f"{where}: measure.field: paperscale writes no {leaf.field!r}; {closest(leaf.field, sorted(fields))}")
            elif hasattr(leaf, "profile"):
                try:
                    runs = profile_runs(leaf.profile, root)
                except KeyError:
                    raise HarnessError(f"{where}: measure.profile: no profile {leaf.profile!r} (params.yaml or experiments/profiles/); "
                                       f"{closest(leaf.profile, known_profiles(root))}") from None
                file = getattr(leaf, "file", "train")
                named = [leaf.run] if hasattr(leaf, "run") else [leaf.full_run, leaf.peft_run]
                for run in named if check_runs else []:
                    if run not in runs[file]:
                        raise HarnessError(f"{where}: measure.run: profile {leaf.profile} has no {file} run {run!r}; {closest(run, sorted(runs[file]))}")
        key = json.dumps([dataclasses.asdict(leaf) for leaf in leaves(c.measure)] + [getattr(c.judge, "of", None)], sort_keys=True, default=str)
        if key in seen:
            raise HarnessError(f"{where}: judges the same measurement as claim {seen[key]}; a measurement is counted once")
        seen[key] = c.id


def load_claims(directory: str | Path = CLAIMS_DIR, root: str | Path = ".", check_runs: bool = True) -> list[Claim]:
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
    check_references(claims, Path(root), check_runs)
    return claims


from harness.claims import judges, measures  # noqa: E402,F401  (registration side effects)
from harness.claims.judges import NEUTRAL  # noqa: E402
