"""Claims across tasks: the papers' relations ("AdaLoRA beats LoRA") are statements about a benchmark, not one task,
so a suite claim reads the same two runs on every task of a suite at once (measure kind ``suite``).

* ``of: probability_of_improvement`` - P(A > B): for each task, the share of (A seed, B seed) pairs in which A scores
  higher (ties count half: the Mann-Whitney statistic over n x m), averaged over tasks (Agarwal et al. 2021,
  "Deep RL at the edge of the statistical precipice", the probability of improvement; 0.5 is "neither").
* ``of: mean_difference`` - the mean over tasks of each task's mean A - B on the metric's own x100 scale, beside it.

The interval is a stratified bootstrap: every (task, arm) sample of seeds is resampled on its own (scipy's
``bootstrap`` with one sample per task and arm, percentile intervals, a fixed generator), so a task with more seeds
never stands for another. ``rliable`` (the reference implementation) does not install beside the pinned stack (its
``arch`` dependency fails on pandas 3), hence scipy, with the same stratification. The p-values the verdict uses are
the bootstrap distribution's tail shares beyond the region's bounds (harness/claims/stats.py: ``bootstrap_evidence``), so a
suite claim joins its component's Holm family like any other. Every task's arms pass the competence check first.
"""

from __future__ import annotations

import math
from typing import Any, Literal

import numpy as np
from pydantic.dataclasses import dataclass
from scipy import stats as st

from harness.claims.claim import typed_measure
from harness.claims.measures import Domain, Measure, Sample
from harness.core.errors import HarnessError
from harness.core.registry import MEASURES
from harness.core.schema import STRICT

RESAMPLES = 10_000
BOOTSTRAP_SEED = 0


@dataclass(config=STRICT)
class SuiteSettings:
    kind: str
    of: Literal["probability_of_improvement", "mean_difference"]
    tasks: list[Any]  # each a pair: {a: <run measure>, b: <run measure>}, the same two runs on one task


def improvement(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | float:
    """P(A > B) over tasks: per task the share of seed pairs with a > b (ties half), averaged. Each sample's seeds lie
    on its last axis (the bootstrap's resamples on the ones before)."""
    per_task = [np.mean((a[..., :, None] > b[..., None, :]) + 0.5 * (a[..., :, None] == b[..., None, :]), axis=(-2, -1)) for a, b in pairs]
    return np.mean(per_task, axis=0)


def mean_difference(pairs: list[tuple[np.ndarray, np.ndarray]]) -> np.ndarray | float:
    return np.mean([a.mean(axis=-1) - b.mean(axis=-1) for a, b in pairs], axis=0)


STATISTICS = {"probability_of_improvement": improvement, "mean_difference": mean_difference}


def stratified_bootstrap(pairs: list[tuple[np.ndarray, np.ndarray]], of: str) -> tuple[float, np.ndarray]:
    """The statistic and its bootstrap distribution, every (task, arm) sample resampled on its own."""
    statistic = STATISTICS[of]
    flat = [x for pair in pairs for x in pair]

    def on_samples(*samples: np.ndarray, axis: int = -1) -> np.ndarray:
        samples = tuple(np.moveaxis(x, axis, -1) for x in samples)
        return statistic([(samples[2 * i], samples[2 * i + 1]) for i in range(len(pairs))])

    result = st.bootstrap(flat, on_samples, n_resamples=RESAMPLES, vectorized=True, paired=False, method="percentile",
                          rng=np.random.default_rng(BOOTSTRAP_SEED))
    return float(statistic(pairs)), np.asarray(result.bootstrap_distribution, dtype=float)


@MEASURES.register("suite")
class SuiteMeasure(Measure):
    """Two runs compared on every task of a suite at once (see the module docstring)."""

    Config = SuiteSettings

    @staticmethod
    def prepare(cfg: SuiteSettings, where: str) -> SuiteSettings:
        if not cfg.tasks:
            raise HarnessError(f"{where}.tasks: a suite needs at least one task")
        tasks = [typed_measure({"kind": "pair", **t}, f"{where}.tasks[{i}]") for i, t in enumerate(cfg.tasks)]
        return SuiteSettings(kind=cfg.kind, of=cfg.of, tasks=tasks)

    @staticmethod
    def sample(cfg: SuiteSettings, ctx: Any) -> Sample:
        pairs, seeds = [], None
        for task in cfg.tasks:  # a task where both arms tie on every seed counts 0.5 there; it does not void the suite
            a, b = (MEASURES.get(side.kind).sample(side, ctx) for side in (task.a, task.b))
            pairs.append((np.asarray(a.values, dtype=float), np.asarray(b.values, dtype=float)))
            seeds = min((seeds, a.seeds, b.seeds), key=lambda s: math.inf if s is None else len(s))
        point, replicates = stratified_bootstrap(pairs, cfg.of)
        # seeds: the fewest any arm has (what a sequential plan's look counts)
        return Sample(values=[point], seeds=seeds, deterministic=False, bootstrap=replicates.tolist())

    @staticmethod
    def domain(cfg: SuiteSettings) -> Domain:
        return (0.0, 1.0) if cfg.of == "probability_of_improvement" else (-200.0, 200.0)
