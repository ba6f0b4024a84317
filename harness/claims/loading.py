"""Loading claims: every entry validated up front, naming the claim id and the field on error; every
profile, run, paperscale entry and field a measure names checked to exist (with the closest names); no
measurement judged by two claims."""

from __future__ import annotations

import dataclasses
import difflib
import json
from functools import cache
from pathlib import Path
from typing import Any

import yaml

from harness.claims.claim import Claim, ClaimHead, leaves, parse_published, typed, typed_measure
from harness.claims.components import load_components
from harness.claims.judges import NEUTRAL
from harness.claims.measures import PAPERSCALE_FIELDS
from harness.core.errors import HarnessError, first_line
from harness.core.io import load_yaml
from harness.core.paths import CLAIMS_DIR, COMPONENTS
from harness.core.registry import JUDGES
from harness.core.schema import validate


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
    judge = typed(JUDGES, head.judge, f"{where}: judge")
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
    from harness.causal.settings import causal_of, rag_names
    from harness.core.config import load_params

    for path, name in profile_files(root):
        if name == profile:
            p = load_params(path)
            c = causal_of(p)
            causal = list(c.runs) if c else []
            return {"train": set(p.train), "eval": set(p.train), "truncate": set(p.truncate.runs) if p.truncate else set(),
                    "planted": set(p.planted.tasks) if p.planted else set(), "causal_train": set(causal),
                    "causal_eval": {*causal, ICL, *rag_names(c)} if c else set(),
                    "causal_align": set(c.align.runs) if c and c.align else set(),
                    "causal_knowledge": set(c.knowledge.arms) if c and c.knowledge else set()}
    raise KeyError(profile)


def profile_files(root: Path) -> list[tuple[Path, str]]:
    """Every params file a claim's profile can name (params.yaml first) with the profile name it declares."""
    files = [root / "params.yaml", *sorted((root / "experiments" / "profiles").glob("*.yaml"))]
    return [(f, (load_yaml(f.read_text()) or {}).get("profile", "smoke")) for f in files if f.is_file()]


def known_profiles(root: Path) -> list[str]:
    return [name for _, name in profile_files(root)]


def check_references(claims: list[Claim], root: Path, check_runs: bool = True) -> None:
    """Every profile, run, paperscale entry and field a measure names exists: a typo is an error naming
    the closest names, never a claim that reads "not run" forever. ``check_runs=False`` (the stages) lets a
    params file that configures fewer runs (an experiment) judge the claims of the missing ones "not run";
    ``harness validate`` and the test suite check the repository's params with runs included."""
    spec = load_yaml((root / "experiments" / "paperscale.yaml").read_text()) or {}
    entries = [*spec.get("entries", {}), "quantization"]
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
                    runs = profile_runs(leaf.profile, root.resolve())  # cached per project, not per relative path
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
            raw = load_yaml(path.read_text()) or []
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
