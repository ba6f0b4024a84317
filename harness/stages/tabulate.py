"""Stage ``tabulate``: the reproduction status table, computed from what actually ran.

Reads ``results/prepare.json``, ``results/train/<run>.json`` and ``results/eval/<run>.json`` for the
runs configured in ``params.yaml`` and writes ``results/status.json`` and ``results/status.md``:
one row per paper component (is it implemented *and* does it work here, with the evidence) and one
row per run (mean ± std over seeds, 95% interval, cost figures).
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

from harness.causal.report import ICL, causal_component, causal_rows, render_causal
from harness.claims import load_claims
from harness.claims.engine import judge_all, load_context
from harness.claims.measures import Context
from harness.config import Params, load_params
from harness.errors import HarnessError
from harness.io import read_json, write_json, write_text
from harness.planted import render_summary, summary_rows
from harness.provenance import git_state
from harness.rankmaps import write_rank_map
from harness.stages.common import RESULTS
from harness.stats import summarize
from harness.sweep import plot_sweep, render_sweep, sweep_table

log = logging.getLogger("harness.tabulate")
EXPERIMENTS = Path("experiments")
RANK_MAPS = RESULTS / "rankmaps"
RANK_MAP_IMAGES = RESULTS / "rankmap_images"
PLOTS = RESULTS / "plots"


def load_results(params: Params, ctx: Context) -> dict[str, dict[str, Any]]:
    """Every configured run's train and eval results, as the claims context already loaded them."""
    for run in params.train:
        for kind in ("train", "eval"):
            if kind not in ctx.runs.get(run, {}):
                raise HarnessError(f"{RESULTS / kind / f'{run}.json'}: missing; run the {kind} stage for run {run!r} (dvc repro {kind}@{run})")
    return {run: ctx.runs[run] for run in params.train}


def run_row(run: str, res: dict[str, Any], metric: str) -> dict[str, Any]:
    train, ev = res["train"]["seeds"], res["eval"]["seeds"]
    seeds = sorted(ev, key=int)
    first = train[seeds[0]]
    return {
        "run": run,
        "method": res["train"]["method"],
        "config": res["train"]["config"],
        "metric": metric,
        "score": summarize(ev[s]["metrics"][metric] for s in seeds),
        "per_seed": {s: ev[s]["metrics"][metric] for s in seeds},
        "trainable_params": first["trainable_params"],
        "trainable_pct": 100.0 * first["trainable_params"] / first["total_params"],
        "artifact_mb": summarize(ev[s]["artifact_bytes"] / 2**20 for s in seeds)["mean"],
        "peak_rss_mb": summarize(train[s]["memory"]["peak_rss_mb"] for s in seeds)["mean"],
        "train_seconds": summarize(train[s]["train_seconds"] for s in seeds)["mean"],
        "tokens_per_s": summarize(train[s]["tokens_per_s"] for s in seeds)["mean"],
        "final_loss": summarize(train[s]["final_loss"] for s in seeds)["mean"],
        "steps": first["steps"],
        "method_report": {s: train[s]["method_report"] for s in seeds},
    }


def rank_moved(report: dict[str, Any]) -> bool:
    """The allocator really ran: some module ended below init_r (masking happened)."""
    ranks = report.get("rank_pattern", {})
    return bool(ranks) and min(ranks.values()) < report["init_r"]


def component(name: str, status: str, evidence: str) -> dict[str, str]:
    return {"component": name, "status": status, "evidence": evidence}


def best(rows: list[dict[str, Any]], method: str) -> dict[str, Any] | None:
    """The run that stands for ``method``: the one named after it (sweeps and ablations carry other
    names), else the best-scoring run of that method."""
    rows = [r for r in rows if r["method"] == method and r["score"]["mean"] is not None]
    named = [r for r in rows if r["run"] == method]
    return named[0] if named else max(rows, key=lambda r: r["score"]["mean"], default=None)


def fmt_score(score: dict[str, Any]) -> str:
    if score["mean"] is None:
        return "n/a"
    std = "" if score["std"] is None else f" ± {score['std']:.2f}"
    return f"{score['mean']:.2f}{std} (n={score['n']})"


def components(params: Params, rows: list[dict[str, Any]], majority: float) -> list[dict[str, str]]:
    st = params.status
    out = []
    lora = best(rows, "lora")
    if lora is None:
        out.append(component("LoRA core", "not run", "no run with method lora in params.yaml train"))
    else:
        gain = lora["score"]["mean"] - majority
        ok = gain >= st.min_gain_over_majority_points
        out.append(component(
            "LoRA core", "working" if ok else "not working",
            f"{lora['run']}: {fmt_score(lora['score'])} vs majority class {majority:.2f} (+{gain:.2f}, need +{st.min_gain_over_majority_points}); "
            f"{lora['trainable_params']:,} trainable ({lora['trainable_pct']:.2f}%)",
        ))
    ada = best(rows, "adalora")
    if ada is None:
        out.append(component("Dynamic rank selection (AdaLoRA)", "not run", "no run with method adalora in params.yaml train"))
    else:
        moved = all(rank_moved(r) for r in ada["method_report"].values())
        ranks = next(iter(ada["method_report"].values()))["rank_pattern"]
        gap = None if lora is None else ada["score"]["mean"] - lora["score"]["mean"]
        close = gap is not None and gap >= -st.within_points_of_lora
        status = "working" if moved and close else ("partial" if moved else "not working")
        out.append(component(
            "Dynamic rank selection (AdaLoRA)", status,
            f"{ada['run']}: {fmt_score(ada['score'])}; ranks reallocated in every seed: {moved} "
            f"(seed {next(iter(ada['method_report']))}: {min(ranks.values())}..{max(ranks.values())} of init {next(iter(ada['method_report'].values()))['init_r']}); "
            + ("no LoRA run to compare" if gap is None else f"{gap:+.2f} points vs {lora['run']} (allowed -{st.within_points_of_lora})"),
        ))
    plus = best(rows, "loraplus")
    if plus is None:
        out.append(component("Gradient strategy (LoRA+)", "not run", "no run with method loraplus in params.yaml train"))
    else:
        gap = None if lora is None else plus["score"]["mean"] - lora["score"]["mean"]
        ok = gap is not None and gap >= -st.within_points_of_lora
        out.append(component(
            "Gradient strategy (LoRA+)", "working" if ok else "not working",
            f"{plus['run']}: {fmt_score(plus['score'])}"
            + ("" if gap is None else f", {gap:+.2f} points vs {lora['run']} at equal steps"),
        ))
    trained = [r for r in rows if r["steps"] > 0]  # retrieval runs take no gradient steps
    finite = all(r["final_loss"] is not None and math.isfinite(r["final_loss"]) for r in trained)
    out.append(component(
        "Training script", "working" if finite and trained else "not working",
        f"{len(trained)} runs x {len(params.seeds)} seeds trained to a finite loss ({len(rows) - len(trained)} without gradient steps)"
        if finite else "a run ended with a non-finite loss",
    ))
    complete = all(r["score"]["n"] == len(params.seeds) for r in rows)
    out.append(component(
        "Evaluation metrics", "working" if complete else "not working",
        f"{', '.join(params.data.metrics)} computed offline for every run and seed" if complete else "a seed lacks a finite metric",
    ))
    out.append(examples_component())
    return out


def study_components(params: Params, sweep: dict[str, list[dict[str, Any]]], planted: list[dict[str, Any]]) -> list[dict[str, str]]:
    """The measurement studies ran completely (every point, every seed); what they found is in their claims."""
    n = len(params.seeds)
    out = []
    if sweep:
        points = [p for series in sweep.values() for p in series]
        done = all(p["score"]["n"] == n for p in points)
        out.append(component("Budget sweep", "working" if done else "not working",
                             f"{len(sweep)} series x {len(points) // len(sweep)} budgets, {n} seeds each; table and plot below"))
    else:
        out.append(component("Budget sweep", "not run", "no sweep: section in params.yaml"))
    if planted:
        done = all(r["agreement"]["n"] == n for r in planted)
        found = "; ".join(
            f"{r['task']}: agreement {r['agreement']['mean']:.1f} (untrained {r['base_agreement']:.1f}), spearman "
            + ("n/a" if r["spearman_allocated"]["mean"] is None else f"{r['spearman_allocated']['mean']:.2f}")
            for r in planted)
        out.append(component("Planted-rank benchmark", "working" if done else "not working", found))
    else:
        out.append(component("Planted-rank benchmark", "not run", "no planted: section in params.yaml"))
    return out


def examples_component() -> dict[str, str]:
    """The shipped example configurations (experiment profiles) must still validate against the schema."""
    files = sorted(EXPERIMENTS.glob("profiles/*.yaml"))
    if not files:
        return component("Examples", "not run", f"no example configurations under {EXPERIMENTS}/profiles")
    bad = []
    for f in files:
        try:
            load_params(f)
        except HarnessError as err:
            bad.append(str(err))
    status = "working" if not bad else "not working"
    return component("Examples", status, f"{len(files) - len(bad)}/{len(files)} profiles validate" + (f"; {bad[0]}" if bad else ""))


def render(status: dict[str, Any]) -> str:
    p = status["setup"]
    lines = [
        f"# Reproduction status — profile `{p['profile']}`",
        "",
        f"Model `{p['model']}`; data `{p['source']}` (train {p['sizes']['train']}, eval {p['sizes']['eval']}; "
        f"eval content sha256 `{p['eval_sha256'][:12]}`); seeds {p['seeds']}; git `{(p['git']['sha'] or 'none')[:10]}`"
        + (" (dirty)" if p["git"]["dirty"] else "")
        + f". Majority-class baseline on eval: {p['majority']:.2f}.",
        "",
        "## Components",
        "",
        "Adaptation atlas (every method: memory, speed, quality against the printed ratings): [atlas.md](atlas.md).",
        "",
        "| component | status | evidence |",
        "|---|---|---|",
    ]
    lines += [f"| {c['component']} | {c['status']} | {c['evidence']} |" for c in status["components"]]
    metric = status["runs"][0]["metric"] if status["runs"] else "metric"
    lines += [
        "",
        "## Runs",
        "",
        f"| run | method | {metric} (mean ± std, n) | 95% CI | trainable params | artifact MB | peak RSS MB | train s / seed | tokens/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in status["runs"]:
        s = r["score"]
        ci = "n/a" if s["ci_low"] is None else f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}]"
        lines.append(
            f"| {r['run']} | {r['method']} | {fmt_score(s)} | {ci} | {r['trainable_params']:,} ({r['trainable_pct']:.3f}%) | "
            f"{r['artifact_mb']:.2f} | {r['peak_rss_mb']:.0f} | {r['train_seconds']:.1f} | {r['tokens_per_s']:.0f} |"
        )
    lines += render_sweep(status["sweep"], metric, "plots/budget_sweep.png")
    lines += render_truncation(status["truncation"])
    lines += render_summary(status["planted"], status["planted_rank_maps"])
    lines += render_causal(status["causal_setup"], status["causal"])
    lines += render_claims(status["claims"], status["claims_summary"])
    ranks = [(r["run"], s, rep["rank_pattern"]) for r in status["runs"] for s, rep in r["method_report"].items() if "rank_pattern" in rep]
    if ranks:
        lines += ["", "## Final AdaLoRA ranks per module", ""]
        lines += [f"![{run} rank map]({path})" for run, path in status["rank_maps"].items()]
        lines += ["", "| run | seed | total | ranks (module order) |", "|---|---|---|---|"]
        lines += [f"| {run} | {seed} | {sum(rp.values())} | {' '.join(str(v) for v in rp.values())} |" for run, seed, rp in ranks]
    return "\n".join(lines) + "\n"


def fmt_value(x: Any) -> str:
    if x is None:
        return "—"
    return f"{x:,.0f}" if abs(x) >= 1000 else f"{x:.4g}"


def render_claims(claims: list[dict[str, Any]], summary: dict[str, int]) -> list[str]:
    lines = [
        "",
        "## Claims",
        "",
        f"{summary.get('reproduced', 0)} of {len(claims)} claims reproduced "
        f"({summary.get('not reproduced', 0)} not reproduced, {summary.get('inconclusive', 0)} inconclusive, "
        f"{summary.get('not run', 0)} not run). Paper-scale counts are computed exactly from the architectures' configs.",
        "",
        "| claim | source | published | ours (mean ± std, n) | delta | verdict | scale | why |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for c in claims:
        ours = c["ours"]
        if ours is None or ours["mean"] is None:
            shown = "—"
        else:
            std = "" if ours["std"] is None else f" ± {fmt_value(ours['std'])}"
            shown = f"{fmt_value(ours['mean'])}{std} (n={ours['n']})"
        why = c["detail"] + (f"; about {c['more_seeds']} more seeds would decide" if c["more_seeds"] else "")
        lines.append(
            f"| `{c['id']}`: {c['statement']} | {c['source']} | {fmt_value(c['published'])} | {shown} | "
            f"{fmt_value(c['delta'])} | **{c['verdict']}** | {c['scale']} | {why} |"
        )
    return lines


def rank_maps(rows: list[dict[str, Any]]) -> dict[str, str]:
    """A heatmap (PNG, a DVC plot) and the numbers (JSON) of the final ranks of every AdaLoRA run."""
    written = {}
    for r in rows:
        reports = {s: rep for s, rep in r["method_report"].items() if "rank_pattern" in rep}
        if reports:
            init_r = next(iter(reports.values()))["init_r"]
            write_rank_map(r["run"], {s: rep["rank_pattern"] for s, rep in reports.items()}, init_r, RANK_MAPS, RANK_MAP_IMAGES)
            written[r["run"]] = str((RANK_MAP_IMAGES / f"{r['run']}.png").relative_to(RESULTS))
    return written


def truncation_rows(params: Params) -> dict[str, dict[str, Any]]:
    """Mean metric over seeds at every truncated rank k, for each run in ``truncate.runs``."""
    rows = {}
    for run in params.truncate.runs:
        path = RESULTS / "truncate" / f"{run}.json"
        if not path.is_file():
            raise HarnessError(f"{path}: missing; run the truncate stage (dvc repro truncate@{run})")
        seeds = read_json(path)["seeds"]
        ks = sorted({int(k) for s in seeds.values() for k in s["metric_at_k"]})
        rows[run] = {str(k): summarize(s["metric_at_k"].get(str(k)) for s in seeds.values())["mean"] for k in ks}
    return rows


def render_truncation(rows: dict[str, dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    width = max(len(r) for r in rows.values())
    lines = ["", "## Rank truncation (SVD of each trained update; mean over the seeds whose update reaches rank k)", "",
             "| run | " + " | ".join(f"k={k}" for k in range(1, width + 1)) + " |", "|---|" + "---|" * width]
    for run, curve in rows.items():
        cells = [f"{curve[str(k)]:.2f}" if curve.get(str(k)) is not None else "—" for k in range(1, width + 1)]
        lines.append(f"| {run} | " + " | ".join(cells) + " |")
    return lines


def planted_results(params: Params, ctx: Context) -> dict[str, dict[str, Any]]:
    tasks = list(params.planted.tasks) if params.planted else []
    for task in tasks:
        if "planted" not in ctx.runs.get(task, {}):
            raise HarnessError(f"{RESULTS / 'planted' / f'{task}.json'}: missing; run the planted stage (dvc repro planted@{task})")
    return {task: ctx.runs[task]["planted"] for task in tasks}


def planted_rank_maps(params: Params, results: dict[str, dict[str, Any]]) -> dict[str, str]:
    """Allocated ranks of the planted-rank students, as heatmaps beside the ones of the runs."""
    written = {}
    for task, res in results.items():
        per_seed = {s: v["allocated_ranks"] for s, v in res["seeds"].items() if v["allocated_ranks"]}
        if per_seed:
            name = f"planted_{task}"
            write_rank_map(name, per_seed, params.planted.student.init_r, RANK_MAPS, RANK_MAP_IMAGES)
            written[task] = str((RANK_MAP_IMAGES / f"{name}.png").relative_to(RESULTS))
    return written


def run(params: Params) -> dict[str, Any]:
    prepared = read_json(RESULTS / "prepare.json")
    tasks = list(params.planted.tasks) if params.planted else []
    causal_runs = [*params.causal.runs, ICL] if params.causal else []
    ctx = load_context(RESULTS, params.profile, list(dict.fromkeys([*params.train, *tasks, *causal_runs])))
    results = load_results(params, ctx)
    rows = [run_row(run, res, params.data.metrics[0]) for run, res in results.items()]
    majority = prepared["majority_class_eval_accuracy"]
    status = {
        "setup": {
            "profile": params.profile,
            "model": params.model.name,
            "source": prepared["source"],
            "sizes": prepared["sizes"],
            "eval_sha256": prepared["content_sha256"]["eval"],
            "seeds": params.seeds,
            "majority": majority,
            "git": git_state(),
        },
        "components": components(params, rows, majority),
        "runs": rows,
    }
    status["rank_maps"] = rank_maps(rows)
    status["truncation"] = truncation_rows(params)
    status["sweep"] = sweep_table(params.sweep, results, params.data.metrics[0])
    if status["sweep"]:
        plot_sweep(status["sweep"], params.data.metrics[0], PLOTS / "budget_sweep.png")
    planted = planted_results(params, ctx)
    status["planted"] = summary_rows(planted)
    status["planted_rank_maps"] = planted_rank_maps(params, planted)
    status["components"] += study_components(params, status["sweep"], status["planted"])
    status["causal"] = causal_rows(params.causal, ctx)
    status["causal_setup"] = {"model": params.causal.model, "task": params.causal.task} if params.causal else None
    status["components"].append(causal_component(params.causal, status["causal"], len(params.seeds)))
    claims = judge_all(load_claims(), ctx)
    status["claims"] = claims
    status["claims_summary"] = dict(Counter(c["verdict"] for c in claims))
    write_json(RESULTS / "status.json", status)
    write_text(RESULTS / "status.md", render(status))
    log.info("tabulate: %s", ", ".join(f"{c['component']}: {c['status']}" for c in status["components"]))
    return status


def main(argv: list[str]) -> None:
    run(load_params())
