"""Stage ``atlas``: the adaptation table (memory / speed / quality / when) regenerated from measurements.

The printed table's rows and ratings are data (``experiments/atlas.yaml``); the thresholds that turn a
measurement into a rating are claims (``experiments/claims/atlas.yaml``, ids ``atlas.<run>.<column>``).
Each cell shows the measured ratio (or gap) to full fine-tuning on the same seeds and whether it agrees
with the printed rating. Writes ``results/atlas.md``, ``results/atlas.json`` (also read by
``harness recommend``) and Pareto plots under ``results/atlas_plots/``.
"""

from __future__ import annotations

import dataclasses
import logging
from pathlib import Path
from typing import Any

from pydantic.dataclasses import dataclass

from harness.causal.settings import causal_of
from harness.claims.engine import judge_all, pipeline_context
from harness.claims.loading import load_claims
from harness.claims.stats import summarize
from harness.core.config import Params, load_params
from harness.core.errors import HarnessError
from harness.core.io import load_yaml, write_json, write_text
from harness.core.paths import ATLAS, ATLAS_MD, ATLAS_PLOTS, ATLAS_SPEC, RESULTS, result_file
from harness.core.provenance import record
from harness.core.schema import STRICT, validate

log = logging.getLogger("harness.atlas")
COLUMNS = ("memory", "speed", "quality")
MARK = {"reproduced": "agrees", "exceeded": "agrees", "not reproduced": "disagrees", "inconclusive": "inconclusive",
        "insufficient runs": "too few seeds", "not run": "not run"}


@dataclass(config=STRICT)
class AtlasRow:
    row: str
    runs: list[str]
    printed: dict[str, str]
    not_run: str | None = None
    # SFT-then-DPO runs (causal.align.runs) measuring the row on the causal track, judged by the same
    # atlas.<run>.<column> claims against full fine-tuning by SFT in the same stage
    align_runs: list[str] = dataclasses.field(default_factory=list)
    # knowledge-update arms (causal.knowledge.arms) measuring the row on the causal track, judged against the
    # closed-book full fine-tuning arm of the same stage
    knowledge_arms: list[str] = dataclasses.field(default_factory=list)


@dataclass(config=STRICT)
class AtlasSpec:
    reference: str
    rows: list[AtlasRow]


def load_spec(params: Params, path: Path = ATLAS_SPEC) -> AtlasSpec:
    if not path.is_file():
        raise HarnessError(f"{path}: not found")
    spec = validate(AtlasSpec, load_yaml(path.read_text()), str(path))
    for i, row in enumerate(spec.rows):
        for run in row.runs:
            if run not in params.train:
                raise HarnessError(f"{path}: rows.{i}.runs: {run!r} is not a run under train in params.yaml; runs: {', '.join(params.train)}")
    causal = causal_of(params)
    declared = {"align_runs": ("causal.align.runs", "SFT-then-DPO runs", causal.align.runs if causal and causal.align else {}),
                "knowledge_arms": ("causal.knowledge.arms", "knowledge-update arms", causal.knowledge.arms if causal and causal.knowledge else {})}
    rows = []
    for i, row in enumerate(spec.rows):
        for field, (key, what, known) in declared.items():
            unknown = [run for run in getattr(row, field) if run not in known]
            if unknown and known:  # the profile has such runs, but not this one: a typo
                raise HarnessError(f"{path}: rows.{i}.{field}: {unknown[0]!r} is not under {key} in params.yaml; known: {', '.join(known)}")
            if unknown:  # a profile without them (the paper profiles): the row reads "not run" where nothing else measures it
                row = dataclasses.replace(row, **{field: []}, not_run=row.not_run or f"this profile has no {what} ({key})")
        rows.append(row)
    spec = dataclasses.replace(spec, rows=rows)
    if spec.reference not in params.train:
        raise HarnessError(f"{path}: reference: {spec.reference!r} is not a run under train in params.yaml")
    return spec


def measured(run: str, res: dict[str, Any], metric: str) -> dict[str, Any]:
    """What the atlas shows of one run: means over seeds (metric with its interval)."""
    train, ev = res["train"]["seeds"], res["eval"]["seeds"]
    seeds = sorted(ev, key=int)

    def mean(values) -> float | None:
        return summarize(values)["mean"]

    first = train[seeds[0]]
    latency = [ev[s].get("latency", {}) for s in seeds]
    return {
        "run": run,
        "method": res["train"]["method"],
        "score": summarize(ev[s]["metrics"][metric] for s in seeds),
        "trainable_params": first["trainable_params"],
        "total_params": first["total_params"],
        "trainable_pct": 100.0 * first["trainable_params"] / first["total_params"],
        "effective_params": mean(train[s].get("effective_params", train[s]["trainable_params"]) for s in seeds),
        "artifact_mb": mean(ev[s]["artifact_bytes"] / 2**20 for s in seeds),
        "training_mb": mean(train[s]["memory"]["training_mb"] for s in seeds),
        "peak_rss_mb": mean(train[s]["memory"]["peak_rss_mb"] for s in seeds),
        "train_seconds": mean(train[s]["train_seconds"] for s in seeds),
        "tokens_per_s": mean(train[s]["tokens_per_s"] for s in seeds),
        "steps": first["steps"],
        "latency_ms": mean(x.get("model_ms") for x in latency),
        "latency_over_base": mean(x.get("model_over_base") for x in latency),
        "merged_over_base": mean(x.get("merged_over_base") for x in latency),
    }


def memory_spread(run: dict[str, Any], reference: dict[str, Any]) -> dict[str, Any]:
    """The training-memory ratio to the reference per shared seed, and its spread across seeds: (max - min) /
    mean, in percent. Each seed trains in a fresh process (harness/core/workers.py), so none pays the process's
    one-off allocations for the others; this figure is what shows it."""
    mine, ref = run["train"]["seeds"], reference["train"]["seeds"]
    seeds = sorted(set(mine) & set(ref), key=int)
    ratios = {s: mine[s]["memory"]["training_mb"] / ref[s]["memory"]["training_mb"] for s in seeds}
    values = list(ratios.values())
    spread = 100.0 * (max(values) - min(values)) / (sum(values) / len(values)) if len(values) > 1 else None
    return {"ratios": ratios, "spread_pct": spread}


def cell(verdict: dict[str, Any] | None, column: str, rating: str, is_reference: bool) -> str:
    if is_reference:
        return f"{rating} (reference: 1.00x)" if column != "quality" else f"{rating} (reference)"
    if verdict is None:
        return f"{rating} — not judged"
    estimate = verdict["estimate"]
    if estimate is None:
        return f"{rating} — not run"
    value = f"{estimate:+.2f} pts" if column == "quality" else f"{estimate:.2f}x"
    return f"{rating} — {value}: {MARK[verdict['verdict']]}"


def render(spec: AtlasSpec, rows: dict[str, dict[str, Any]], verdicts: dict[str, dict[str, Any]], metric: str) -> str:
    ref = rows[spec.reference]
    lines = [
        "# Adaptation atlas — measured",
        "",
        f"Every method trained by the same loop on the same data ({ref['steps']} steps), at the learning rate its equal tuning "
        "budget chose on the validation split (status.md, Protocol), scored on the test split; ratings relative to "
        f"`{spec.reference}` (full fine-tuning). Thresholds: experiments/claims/atlas.yaml. memory = training memory "
        "(model weights + peak RSS growth while training) / full's; speed = train time / full's at equal steps; "
        f"quality = {metric} − full's (points, paired by seed). A cell reads: printed rating — measured: agrees / disagrees "
        "(95% CI over seeds inside / outside the rating's band) / inconclusive (straddles).",
        "",
        "| method | runs | memory | speed | quality | when |",
        "|---|---|---|---|---|---|",
    ]
    for row in spec.rows:
        if not row.runs and not row.align_runs and not row.knowledge_arms:
            lines.append(f"| {row.row} | — | " + " | ".join(f"{row.printed.get(c, '—')} — not run" for c in COLUMNS) + f" | {row.printed.get('when', '')} ({row.not_run or 'no runs'}) |")
            continue
        for run in row.runs:
            cells = [cell(verdicts.get(f"atlas.{run}.{c}"), c, row.printed.get(c, "—"), run == spec.reference) for c in COLUMNS]
            lines.append(f"| {row.row} | {run} | " + " | ".join(cells) + f" | {row.printed.get('when', '')} |")
        for run, mark in [*((r, "causal") for r in row.align_runs), *((a, "causal, knowledge update") for a in row.knowledge_arms)]:
            cells = [cell(verdicts.get(f"atlas.{run}.{c}"), c, row.printed.get(c, "—"), False) for c in COLUMNS]
            lines.append(f"| {row.row} | {run} ({mark}) | " + " | ".join(cells) + f" | {row.printed.get('when', '')} |")
    if any(row.align_runs for row in spec.rows):
        lines += ["", "Rows marked (causal) are SFT then DPO through trl on the causal track (stage causal_align), judged against "
                  "full fine-tuning by SFT in the same stage and engine on the same seeds: memory = the larger phase's training "
                  "memory, speed = SFT + DPO time (more steps than the reference's SFT alone), quality = BLEU of greedy outputs. "
                  "Their figures are in status.md (SFT then DPO)."]
    if any(row.knowledge_arms for row in spec.rows):
        lines += ["", "Rows marked (causal, knowledge update) are arms of the knowledge-update task (stage causal_knowledge), judged "
                  "against closed-book full fine-tuning on the same facts and seeds: memory = weights + peak RSS growth over "
                  "everything the arm does to answer, speed = setup time (training + index build), quality = facts of the updated "
                  "store said, with retrieved documents against random ones at equal k (the rating: quality depends on the "
                  "context). Their figures are in status.md (Knowledge update)."]
    lines += [
        "",
        "## Measurements (means over seeds)",
        "",
        "![metric vs trainable parameters](atlas_plots/pareto_params.png) ![metric vs training memory](atlas_plots/pareto_memory.png)",
        "",
        f"| run | method | {metric} (95% CI) | trainable (%) | artifact MB | training MB | memory / full's: seed spread | peak RSS MB | train s / seed | tokens/s | latency ms (x base) | merged x base |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for r in rows.values():
        s = r["score"]
        ci = "" if s["ci_low"] is None else f" [{s['ci_low']:.2f}, {s['ci_high']:.2f}]"
        lat = "—" if r["latency_ms"] is None else f"{r['latency_ms']:.1f} ({r['latency_over_base']:.2f}x)"
        merged = "—" if r["merged_over_base"] is None else f"{r['merged_over_base']:.2f}x"
        spread = r["memory_ratio"]["spread_pct"]
        spread_cell = "—" if r["run"] == spec.reference or spread is None else f"{spread:.1f}%"
        lines.append(
            f"| {r['run']} | {r['method']} | {s['mean']:.2f}{ci} | {r['trainable_params']:,} ({r['trainable_pct']:.3f}%) | "
            f"{r['artifact_mb']:.2f} | {r['training_mb']:.0f} | {spread_cell} | {r['peak_rss_mb']:.0f} | {r['train_seconds']:.1f} | "
            f"{r['tokens_per_s']:.0f} | {lat} | {merged} |"
        )
    spreads = {r["run"]: r["memory_ratio"]["spread_pct"] for r in rows.values() if r["run"] != spec.reference and r["memory_ratio"]["spread_pct"] is not None}
    if spreads:
        worst = max(spreads, key=spreads.get)
        lines += ["", f"Memory ratios are comparable across seeds when each seed's ratio to full's (same seed) varies little: the "
                  f"largest seed spread ((max − min) / mean) is {spreads[worst]:.1f}% ({worst}); the protocol asks for under 10% "
                  f"({'met' if spreads[worst] < 10 else 'NOT met'}). Every seed trains in a fresh process, so no seed pays "
                  "the process's one-off allocations for the others."]
    return "\n".join(lines) + "\n"


def pareto_front(points: list[tuple[float, float]]) -> list[int]:
    """Indices of the points no other point beats on both axes (lower x, higher y), sorted by x."""
    order = sorted(range(len(points)), key=lambda i: (points[i][0], -points[i][1]))
    front, best = [], float("-inf")
    for i in order:
        if points[i][1] > best:
            front.append(i)
            best = points[i][1]
    return front


def plot_pareto(rows: list[dict[str, Any]], x_key: str, x_label: str, metric: str, path: Path, log_x: bool) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    pts = [(max(r[x_key], 1.0), r["score"]["mean"]) for r in rows]
    fig, ax = plt.subplots(figsize=(6.5, 4.2))
    for r, (x, y) in zip(rows, pts):
        s = r["score"]
        err = None if s["ci_low"] is None else [[y - s["ci_low"]], [s["ci_high"] - y]]
        ax.errorbar([x], [y], yerr=err, marker="o", capsize=3, linestyle="none")
        ax.annotate(r["run"], (x, y), textcoords="offset points", xytext=(4, 4), fontsize=7)
    front = pareto_front(pts)
    ax.plot([pts[i][0] for i in front], [pts[i][1] for i in front], "k--", linewidth=0.8, label="Pareto front")
    if log_x:
        ax.set_xscale("log")
    ax.set_xlabel(x_label)
    ax.set_ylabel(f"{metric} (mean, 95% CI)")
    ax.legend(fontsize=7)
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)


def run(params: Params) -> dict[str, Any]:
    spec = load_spec(params)
    metric = params.data.metrics[0]
    runs = list(dict.fromkeys(r for row in spec.rows for r in row.runs))
    ctx = pipeline_context(params, RESULTS)
    for r in runs:
        for kind in ("train", "eval"):
            if kind not in ctx.runs.get(r, {}):
                raise HarnessError(f"{result_file(kind, r)}: missing; run dvc repro {kind}@{r}")
    rows = {r: {**measured(r, ctx.runs[r], metric), "memory_ratio": memory_spread(ctx.runs[r], ctx.runs[spec.reference])} for r in runs}
    verdicts = {v["id"]: v for v in judge_all(load_claims(check_runs=False), ctx) if v["id"].startswith("atlas.")}
    write_text(ATLAS_MD, render(spec, rows, verdicts, metric))
    plot_pareto(list(rows.values()), "trainable_params", "trainable parameters (log; retrieval plotted at 1)", metric, ATLAS_PLOTS / "pareto_params.png", True)
    plot_pareto(list(rows.values()), "training_mb", "training memory, MB (weights + peak RSS growth)", metric, ATLAS_PLOTS / "pareto_memory.png", False)
    result = {
        "profile": params.profile,
        "model": params.model.name,
        "metric": metric,
        "reference": spec.reference,
        "rows": [{"row": row.row, "runs": row.runs, "align_runs": row.align_runs, "knowledge_arms": row.knowledge_arms, "printed": row.printed,
                  "not_run": row.not_run} for row in spec.rows],
        "runs": rows,
        "verdicts": {k: {"verdict": v["verdict"], "estimate": v["estimate"], "detail": v["detail"]} for k, v in verdicts.items()},
        "provenance": record(seeds=params.seeds),
    }
    write_json(ATLAS, result)
    log.info("atlas: %d runs, %s", len(rows), ", ".join(f"{k}: {v['verdict']}" for k, v in list(verdicts.items())[:4]))
    return result


def main(argv: list[str]) -> None:
    run(load_params())
