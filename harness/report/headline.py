"""The default pipeline's headline (``results/headline.json``): its one DVC metrics file; and each study's own
(``results/studies/<study>.json``, shown by ``dvc metrics show results/studies/<study>.json``).

``dvc exp show`` and ``dvc metrics show`` print every key of every metrics file as a column, so the headline keeps
what a person compares across experiments of the default pipeline and nothing else, at most 20 values: each of its
own runs' primary metric with its 95% interval, the claims' verdicts counted, and the commit - rounded so that noise
below the printed precision does not make a column "changed" under ``--only-changed``. The runs of the studies,
the counts by kind, costs and every other figure stay in ``results/status.json`` and the stages' files.

A study's headline holds its own training runs' primary metric and interval (a study of the causal track or the
planted benchmark has none there), the verdicts of the claims judged on its results, and whether those results are
stale. They are not declared as DVC metrics: DVC shows every dvc.yaml's metrics together, and the default's
``dvc metrics show`` stays at 20 values.
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.claims.claim import VERDICTS
from harness.core.errors import HarnessError

SECTIONS = ("claims", "provenance")
DEFAULT = "default"  # the pipeline a run row belongs to (harness/commands/current.py's name for dvc.yaml at the root)


def headline(status: dict[str, Any]) -> dict[str, Any]:
    """status.json's content -> the headline: the default pipeline's runs (top level: the most compared columns get
    the shortest names), the claims' verdicts counted over every kind, and the commit (the full provenance is
    status.json's)."""
    out: dict[str, Any] = {}
    for r in status["runs"]:
        if r.get("pipeline") != DEFAULT:
            continue
        if r["run"] in SECTIONS:
            raise HarnessError(f"train.{r['run']}: a run may not be named {', '.join(SECTIONS)} (the headline's sections)")
        out[r["run"]] = entry(r["metric"], r["score"])
    verdicts = Counter(c["verdict"] for c in status["claims"])
    out["claims"] = {verdict.replace(" ", "_"): verdicts.get(verdict, 0) for verdict in VERDICTS}
    out["provenance"] = commit_of(status)
    return out


def commit_of(status: dict[str, Any]) -> dict[str, Any]:
    """The commit the table was written at, short, and whether the tree was dirty (the full provenance is status.json's)."""
    git = status["provenance"]["git"]
    return {"git": {"sha": (git["sha"] or "")[:10] or None, "dirty": git["dirty"]}}


def study_headline(study: str, status: dict[str, Any], claim_ids: set[str]) -> dict[str, Any]:
    """status.json's content -> study ``study``'s headline: its runs, the verdicts of the claims ``claim_ids`` (those
    that read its results), and its freshness (the commit its results are from when stale, else false)."""
    out: dict[str, Any] = {r["run"]: entry(r["metric"], r["score"]) for r in status["runs"] if r.get("pipeline") == study}
    verdicts = Counter(c["verdict"] for c in status["claims"] if c["id"] in claim_ids)
    out["claims"] = {verdict.replace(" ", "_"): verdicts.get(verdict, 0) for verdict in VERDICTS}
    stale = status["stale_studies"].get(study)
    out["stale_since"] = (stale["since"] or "never run") if stale else False
    out["provenance"] = commit_of(status)
    return out


def entry(metric: str, score: dict[str, Any]) -> dict[str, Any]:
    """The mean and the half-width of its 95% interval (Student t over seeds: symmetric, so mean +- ci95 is the interval;
    one value instead of two keeps the headline at 20 with a seventh verdict, invalid)."""
    half = None if score["ci_high"] is None or score["mean"] is None else score["ci_high"] - score["mean"]
    return {metric: _round(score["mean"]), "ci95": _round(half)}


def counts(claims: list[dict[str, Any]], kind: str) -> dict[str, int]:
    mine = Counter(c["verdict"] for c in claims if c["kind"] == kind)
    return {v: mine.get(v, 0) for v in VERDICTS}


def values(head: dict[str, Any]) -> int:
    """How many values ``dvc metrics show`` prints for a headline: its leaves."""
    return sum(values(v) if isinstance(v, dict) else 1 for v in head.values())


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)

