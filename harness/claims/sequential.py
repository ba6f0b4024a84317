"""Seeds added by a plan made before looking: a group-sequential design with alpha spending.

A claim whose verdict is still open may earn more seeds only as the plan in ``experiments/seed_plan.yaml`` says,
written before any of its runs: the looks (seeds per compared run at each, the last one the cap) and the spending
function that shares the error rate alpha out over them. At look k of K a claim is decided only when its p-value
(after its family's correction) is below the look's *nominal* level, computed so that over all looks together the
chance of a false decision stays at alpha - which deciding at every look at alpha itself would not (five looks at
0.05 give a false decision about 14% of the time under the null; Armitage, McPherson & Rowe 1969).

The boundaries are Lan & DeMets' (1983) alpha spending: the cumulative error spent by information fraction t is

* O'Brien-Fleming type: alpha(t) = 2 (1 - Phi(z_{1-alpha/2} / sqrt(t))), little spent early, nearly alpha at the end;
* Pocock type: alpha(t) = alpha ln(1 + (e - 1) t), spent evenly.

With t_k = n_k / n_K and the look statistics Z_k correlated as sqrt(t_i / t_j) (i <= j; a mean over more seeds
includes the fewer), the boundary c_k solves P(Z_1 < c_1, ..., Z_k < c_k) = 1 - alpha(t_k) (Jennison & Turnbull 2000,
ch. 19), computed by recursive numerical integration (:func:`nominal_levels`); the nominal level is 1 - Phi(c_k). The seeds' t-tests are
read against it (their p-values are exact at each look; tests/test_sequential.py simulates the error over 2,000 null
experiments). ``harness seed-plan`` reads which planned claims are open and names the next look's seeds for exactly
the runs they compare; status.md shows each planned claim's look, its nominal level and what the cap would decide.
"""

from __future__ import annotations

import dataclasses
import fnmatch
import math
from functools import cache
from pathlib import Path
from typing import Literal

import numpy as np
from pydantic import Field, StrictStr
from pydantic.dataclasses import dataclass
from scipy import optimize
from scipy import stats as st

from harness.core.io import load_yaml
from harness.core.report_paths import SEED_PLAN
from harness.core.schema import STRICT, PositiveInt, validate

Spending = Literal["obrien_fleming", "pocock"]
GRID = 2001  # points of the numerical integration on each look's continuation region


def spent(t: float, alpha: float, spending: Spending) -> float:
    """The cumulative error spent by information fraction ``t`` (0 < t <= 1)."""
    if spending == "obrien_fleming":
        return 2 * (1 - st.norm.cdf(st.norm.ppf(1 - alpha / 2) / math.sqrt(t)))
    return alpha * math.log(1 + (math.e - 1) * t)


@cache
def nominal_levels(looks: tuple[int, ...], alpha: float, spending: Spending) -> tuple[float, ...]:
    """The one-sided nominal level of each look (seeds ``looks``, the last the cap), from the spending function's
    boundaries; their union holds the error at ``alpha``. Computed by the recursive numerical integration of Armitage,
    McPherson & Rowe (Jennison & Turnbull 2000, ch. 19): on the score scale S_k = Z_k sqrt(t_k) the increments are
    independent normals, so the density of S_k on the continuation region (S_j < c_j sqrt(t_j), j < k) is carried from
    look to look on a grid, and c_k solves P(continue to k, Z_k >= c_k) = alpha(t_k) - alpha(t_{k-1})."""
    t = np.asarray(looks, dtype=float) / looks[-1]
    bounds = [float(st.norm.isf(spent(t[0], alpha, spending)))]
    grid = np.linspace(-10 * math.sqrt(t[0]), bounds[0] * math.sqrt(t[0]), GRID)
    density = st.norm.pdf(grid, scale=math.sqrt(t[0]))
    for k in range(1, len(looks)):
        step = math.sqrt(t[k] - t[k - 1])
        weights = density * np.gradient(grid)  # the mass of each grid cell of S_{k-1} on the continuation region
        target = spent(t[k], alpha, spending) - spent(t[k - 1], alpha, spending)

        def crossing(c: float, k=k, weights=weights, grid=grid, step=step) -> float:
            return float(np.sum(weights * st.norm.sf((c * math.sqrt(t[k]) - grid) / step))) - target

        bounds.append(float(optimize.brentq(crossing, -10.0, 20.0, xtol=1e-10)))
        upper = bounds[-1] * math.sqrt(t[k])
        new_grid = np.linspace(upper - 10 * math.sqrt(t[k]), upper, GRID)
        density = st.norm.pdf((new_grid[:, None] - grid[None, :]) / step) @ weights / step
        grid = new_grid
    return tuple(float(st.norm.sf(c)) for c in bounds)


@dataclass(config=STRICT)
class SeedPlan:
    alpha: float = Field(default=0.05, gt=0, lt=0.5)  # the error rate held over all looks together
    spending: Spending = "obrien_fleming"
    looks: list[PositiveInt] = Field(default_factory=lambda: [3, 5, 10])  # seeds per compared run; the last is the cap
    claims: list[StrictStr] = Field(default_factory=list)  # claim ids (fnmatch patterns) judged by this plan
    reason: StrictStr = ""  # why these looks and this spending, written with the plan

    def __post_init__(self) -> None:
        if len(self.looks) < 2 or any(b <= a for a, b in zip(self.looks, self.looks[1:])):
            raise ValueError(f"looks must be at least two increasing seed counts; got {self.looks}")

    def covers(self, claim_id: str) -> bool:
        return any(fnmatch.fnmatchcase(claim_id, pattern) for pattern in self.claims)

    def look(self, n: int) -> Look:
        """The look a sample of ``n`` seeds is at (the last planned count it reaches; 0 before the first)."""
        k = sum(n >= m for m in self.looks)
        levels = nominal_levels(tuple(self.looks), self.alpha, self.spending)
        return Look(k, len(self.looks), n, levels[k - 1] if k else 0.0, self.looks[k] if k < len(self.looks) else None, self.looks[-1])


@dataclasses.dataclass(frozen=True)
class Look:
    k: int  # 1-based; 0: fewer seeds than the first look
    of: int
    n: int
    level: float  # the nominal level a p-value must be under to decide here (0 before the first look)
    next: int | None  # the next look's seeds (None at the cap)
    cap: int

    def text(self) -> str:
        if self.k == 0:
            return f"before the first look ({self.n} of {self.cap} seeds planned)"
        return f"look {self.k} of {self.of} ({self.n} seeds, nominal level {self.level:.3g})"


@cache
def load_plan(path: Path = SEED_PLAN) -> SeedPlan:
    """The project's plan; a project without the file has none (every claim a fixed design, judged at alpha)."""
    if not path.is_file():
        return SeedPlan(claims=[])
    return validate(SeedPlan, load_yaml(path.read_text()) or {}, str(path))
