"""Choosing a learning rate from a grid scored on validation: one rule for every stage that tunes (the
classification runs' ``tune@<run>``, the planted-rank arms' ``planted_tune``)."""

from __future__ import annotations

import math

from harness.core.errors import HarnessError


def choose(points: list[dict], factors: list[float]) -> int:
    """Index of the best point: highest validation score; ties go to the factor nearest 1 (the published
    default), then to the smaller factor. A point that diverged (no score) never wins."""
    scored = [i for i, p in enumerate(points) if p["validation"] is not None]
    if not scored:
        raise HarnessError("tune: every learning rate of the grid diverged; lower the run's lr or the tuning factors")
    return max(scored, key=lambda i: (points[i]["validation"], -abs(math.log(factors[i])), -factors[i]))
