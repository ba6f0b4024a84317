"""The experiment's headline (``results/headline.json``): the pipeline's one DVC metrics file.

``dvc exp show`` and ``dvc metrics show`` print every key of every metrics file as a column; with the detailed
result JSONs declared as metrics that was hundreds of sparse columns. The headline keeps what a person compares
across experiments - per run the primary metric's mean and 95% interval, trainable parameters and peak memory, the
claims' verdicts counted by kind, and the commit - rounded so that noise below the printed precision does not make a column
"changed" under ``--only-changed``. The detailed JSONs stay outputs (``results/status.json`` and the stages' files).
"""

from __future__ import annotations

from collections import Counter
from typing import Any

from harness.causal.report import COLUMNS as CAUSAL_METRICS
from harness.claims.claim import KINDS, VERDICTS
from harness.core.errors import HarnessError

SECTIONS = ("profile", "causal", "align", "claims", "provenance")


def headline(status: dict[str, Any]) -> dict[str, Any]:
    """status.json's content -> the headline: the main track's runs (top level: their columns are the ones most
    compared, so they get the shortest names), causal, align (after each phase), claims by kind, and the commit
    (the full provenance is status.json's)."""
    out: dict[str, Any] = {"profile": status["setup"]["profile"]}
    for r in status["runs"]:
        if r["run"] in SECTIONS:
            raise HarnessError(f"train.{r['run']}: a run may not be named {', '.join(SECTIONS)} (the headline's sections)")
        out[r["run"]] = entry(r["metric"], r["score"], r["trainable_params"], r["peak_rss_mb"])
    causal = {}
    for r in status["causal"] or []:
        metric = next((k for k, _ in CAUSAL_METRICS if k in r["metrics"]), None)
        if metric is not None:
            causal[r["run"]] = entry(metric, r["metrics"][metric], r.get("trainable_params", 0), r.get("peak_rss_mb"))
    if causal:
        out["causal"] = causal
    align = {f"{r['run']}_{r['phase']}": entry("preference_accuracy", r["eval"]["preference_accuracy"], r["trainable_params"],
                                               r["training_mb"]) for r in status["align"] or []}
    if align:
        out["align"] = align
    out["claims"] = {kind: {verdict.replace(" ", "_"): n for verdict, n in counts(status["claims"], kind).items()} for kind in KINDS}
    git = status["provenance"]["git"]
    out["provenance"] = {"git": {"sha": (git["sha"] or "")[:10] or None, "dirty": git["dirty"]}, "full": "results/status.json"}
    return out


def entry(metric: str, score: dict[str, Any], params: int, peak_mb: float | None) -> dict[str, Any]:
    row: dict[str, Any] = {metric: _round(score["mean"]), "ci_low": _round(score["ci_low"]), "ci_high": _round(score["ci_high"]),
                           "params": params}
    if peak_mb is not None:
        row["peak_mb"] = round(peak_mb)
    return row


def counts(claims: list[dict[str, Any]], kind: str) -> dict[str, int]:
    mine = Counter(c["verdict"] for c in claims if c["kind"] == kind)
    return {v: mine.get(v, 0) for v in VERDICTS}


def _round(x: float | None) -> float | None:
    return None if x is None else round(x, 2)
