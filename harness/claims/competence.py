"""Every arm of a comparison must have learned before the comparison is judged.

A relation between two runs ("AdaLoRA beats LoRA at the same budget") says something about the methods only if
both runs learned the task: a run left at chance by its learning rate makes any relation hold or fail for a reason
that is not the method. So before a claim that compares runs' quality is judged, each run it compares passes a
competence check, stated once in ``experiments/competence.yaml`` before any verdict was read from it, and read on
validation only (the split the tuning used; the test split stays the judged one):

* the figure: the run's primary metric on validation - each seed's trained model scored on the whole validation
  split (the train stage records it for every run, k-NN included), else (older results) each seed's last point of
  its validation curve, else the tuning stage's score at the chosen point (seed 0, one value, no interval);
* the floor: the constant predictor's score on that validation split (``majority``: always the most frequent
  class; ``zero``: a correlation or Matthews coefficient, which a constant prediction does not raise above 0)
  plus the stated margin;
* the test: the one-sided 95% lower bound of the mean over seeds (the value itself for one seed) at or above
  the floor.

An arm that fails makes the claim ``invalid: <run> did not learn (<figure>)``: counted apart, never reproduced or
not reproduced, held as such by the gate. A claim on one run alone is not a comparison and is judged as it is (a
run at chance then fails its own region).
"""

from __future__ import annotations

import dataclasses
from functools import cache
from pathlib import Path
from typing import Any, Literal

from pydantic import StrictStr
from pydantic.dataclasses import dataclass

from harness.claims.claim import leaves, sides
from harness.claims.measures import Context, NotRun
from harness.claims.stats import summarize
from harness.core.errors import HarnessError
from harness.core.io import load_yaml
from harness.core.report_paths import COMPETENCE
from harness.core.schema import STRICT, NonNegFloat, validate

QUALITY_FILES = ("eval", "train")  # the encoder track's results: its runs are tuned on validation


@dataclass(config=STRICT)
class MetricRule:
    constant: Literal["majority", "zero"]  # the constant predictor's score: the majority class's, or 0
    margin: NonNegFloat  # how far above the constant predictor a run must be (the metric's own units)
    reason: StrictStr  # why this margin: written before any verdict was read from it


@dataclass(config=STRICT)
class CompetenceSpec:
    metrics: dict[str, MetricRule]  # primary metric -> its rule (every registered metric has one)


@dataclasses.dataclass(frozen=True)
class Competence:
    run: str
    learned: bool
    figure: str  # what the check read and against what, for the verdict's reason


@cache
def load_competence(path: Path = COMPETENCE) -> CompetenceSpec:
    if not path.is_file():
        raise HarnessError(f"{path}: not found (the competence check's rule per metric)")
    return validate(CompetenceSpec, load_yaml(path.read_text()), str(path))


def constant_score(metric: str, rule: MetricRule, label_counts: dict[str, int] | None) -> float | None:
    """The validation score of the best constant prediction, or None where the split's labels are not recorded."""
    if rule.constant == "zero":
        return 0.0
    if not label_counts:
        return None
    total = sum(label_counts.values())
    if metric == "f1":  # the positive class ("1") predicted for every example
        p = label_counts.get("1", 0) / total
        return 100.0 * 2 * p / (1 + p)
    return 100.0 * max(label_counts.values()) / total


def validation_scores(run: dict[str, Any], metric: str) -> tuple[list[float], str] | None:
    """A run's primary metric on validation per seed: each trained seed's score on the whole validation split
    (``final_validation``), else each seed's last point of its validation curve (results written before the train
    stage recorded the former), else the tuning's score at its chosen point; None where the run has none of them."""
    seeds = [seed for _, seed in sorted(((run.get("train") or {}).get("seeds") or {}).items(), key=lambda kv: int(kv[0]))]
    finals = [(seed.get("final_validation") or {}).get(metric) for seed in seeds]
    if finals and all(v is not None for v in finals):
        return [float(v) for v in finals], f"the trained model on the validation split, {len(finals)} seeds"
    curves = [seed.get("val_curve") for seed in seeds]
    if curves and all(curves):
        return [float(c[-1][1]) for c in curves], f"last validation point of {len(curves)} seeds"
    tune = run.get("tune")
    if tune:
        chosen = [g["validation"] for g in tune["grid"] if g["lr"] == tune["chosen_lr"]]
        if chosen and chosen[0] is not None:
            return [float(chosen[0])], f"tuning, seed {tune.get('seed', 0)} at the chosen lr"
    return None


def check_arm(run: str, ctx: Context, spec: CompetenceSpec) -> Competence | None:
    """The competence of ``run`` in ``ctx`` (a profile's context), or None where there is nothing to check against."""
    record = ctx.runs.get(run, {})
    metric = (record.get("tune") or {}).get("metric") or (record.get("eval") or {}).get("primary_metric")
    scores = validation_scores(record, metric) if metric else None
    if metric is None or scores is None:
        return None
    if metric not in spec.metrics:
        raise HarnessError(f"{COMPETENCE}: metrics: no rule for {metric!r} (run {run}); rules: {', '.join(spec.metrics)}")
    rule = spec.metrics[metric]
    constant = constant_score(metric, rule, ((ctx.prepared or {}).get("label_counts") or {}).get("validation"))
    if constant is None:
        return None
    values, where = scores
    summary = summarize(values, confidence=0.90)  # its two-sided 90% interval's low end: the one-sided 95% lower bound
    mean = summary["mean"]
    if summary["ci_low"] is not None:
        bound = summary["ci_low"]
        shown = f"validation {metric} {mean:.4g}, one-sided 95% lower bound {bound:.4g} ({where})"
    else:
        bound = mean
        shown = f"validation {metric} {mean:.4g} ({where})"
    floor = constant + rule.margin
    verb = ">=" if bound >= floor else "<"
    return Competence(run, bound >= floor, f"{shown} {verb} {floor:.4g}: the constant predictor's {constant:.4g} + margin {rule.margin:g}")


def compared_arms(measure: Any, ctx: Context) -> list[tuple[str, Context]]:
    """The runs a comparison's quality figures come from, each with its profile's context (empty for a measure of one
    run alone, which is not a comparison, and for arms of a profile that did not run)."""
    if not sides(measure):
        return []
    arms = {(leaf.profile, leaf.run) for leaf in leaves(measure)
            if leaf.kind == "run" and leaf.file in QUALITY_FILES and leaf.field.startswith("metrics.")}
    found = []
    for profile, run in sorted(arms):
        try:
            found.append((run, ctx.of_profile(profile)))
        except NotRun:
            continue
    return found


def arm_label(run: str, where: Context, ctx: Context) -> str:
    """A compared run as a verdict names it: with its profile where that is not the claim's own context's."""
    return run if where.profile == ctx.profile else f"{where.profile}/{run}"


def failed_arms(measure: Any, ctx: Context) -> list[Competence]:
    """The compared runs that did not learn (empty: every arm passed or had nothing to check). The rules are read only
    for a comparison."""
    checked = [(check_arm(run, where, load_competence()), arm_label(run, where, ctx)) for run, where in compared_arms(measure, ctx)]
    return [dataclasses.replace(verdict, run=label) for verdict, label in checked if verdict is not None and not verdict.learned]


def grid_edges(measure: Any, ctx: Context) -> list[str]:
    """The compared runs whose tuned lr is still on an edge of the grid at its cap (harness/engine/grid_search.py), as
    ``<run> (<edge>)``: their best may lie beyond the grid, so the comparison may be one of tuning."""
    edges = ((arm_label(run, where, ctx), ((where.runs.get(run) or {}).get("tune") or {}).get("grid_edge")) for run, where in compared_arms(measure, ctx))
    return [f"{label} ({edge})" for label, edge in edges if edge]
