"""Choosing a learning rate from a grid scored on validation: one rule for every stage that tunes (the
classification runs' ``tune@<run>``, the planted-rank arms' ``planted_tune``).

The grid is the run's default lr times ``tuning.factors``. Where the best point sits on an edge of it, the optimum
may lie beyond, and a gap between two methods may be a gap in their tuning; so the grid grows that way
(:func:`search`): ``extend_per_round`` points per round, each ``extend_step`` times further out, scored on the
same validation split, until the best is interior or ``extend_max`` points were added on that side. A best point
still on the edge at the cap is recorded as such (``grid_edge``), and every row and claim that reads the run says
so. The rule is the same for every run and is fixed before any run is scored."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Callable
from typing import Any

from harness.core.errors import HarnessError


@dataclasses.dataclass(frozen=True)
class Axis:
    """How a grid grows at an edge: ``per_round`` points a round, each ``step`` times beyond the last, at most
    ``cap`` points on a side (0: never)."""

    step: float
    per_round: int
    cap: int

    @classmethod
    def learning_rate(cls, tuning: Any) -> Axis:
        """The lr axis of ``tuning`` (``extend_step``, ``extend_per_round``, ``extend_max``)."""
        return cls(tuning.extend_step, tuning.extend_per_round, tuning.extend_max)

    @classmethod
    def length(cls, tuning: Any) -> Axis:
        """The training-length axis of ``tuning`` (``steps_extend_step``, one length a round, ``steps_extend_max``)."""
        return cls(tuning.steps_extend_step, 1, tuning.steps_extend_max)


def choose(points: list[dict[str, Any]]) -> int:
    """Index of the best point: highest validation score; ties go to the factor nearest 1 (the published
    default), then to the smaller factor. A point that diverged (no score) never wins."""
    scored = [i for i, p in enumerate(points) if p["validation"] is not None]
    if not scored:
        raise HarnessError("tune: every learning rate of the grid diverged; lower the run's lr or the tuning factors")
    return max(scored, key=lambda i: (points[i]["validation"], -abs(math.log(points[i]["factor"])), -points[i]["factor"]))


def edge_of(points: list[dict[str, Any]]) -> str | None:
    """"top" or "bottom" where the best point has the largest or the smallest factor of the grid (diverged points
    count as grid points: a diverged point beyond the best bounds it), else None."""
    factors = [p["factor"] for p in points]
    if len(factors) < 2:
        return None
    best = points[choose(points)]["factor"]
    return "top" if best == max(factors) else "bottom" if best == min(factors) else None


def search(points: list[dict[str, Any]], axis: Axis, score: Callable[[list[float]], list[dict[str, Any]]]) -> tuple[list[dict[str, Any]], str | None]:
    """Grow ``points`` (a scored grid of factors) along ``axis`` while its best sits on an edge: ``score(factors)``
    trains and scores the new factors (points with ``factor`` and ``validation``). Returns every point (the grid's
    first, then each round's, marked ``extended``) and the edge the best still sits on at the cap, or None when the
    optimum is interior."""
    points = list(points)
    added = {"top": 0, "bottom": 0}
    while (edge := edge_of(points)) is not None:
        room = axis.cap - added[edge]
        if room <= 0:
            return points, edge
        outer = max(p["factor"] for p in points) if edge == "top" else min(p["factor"] for p in points)
        step = axis.step if edge == "top" else 1 / axis.step
        new = [outer * step ** k for k in range(1, min(axis.per_round, room) + 1)]
        added[edge] += len(new)
        points += [{**p, "extended": True} for p in score(new)]
    return points, None
