"""Stage ``tabulate``: the reproduction status table, computed from what actually ran.

Reads ``results/prepare.json``, ``results/tune/<run>.json``, ``results/train/<run>.json`` and
``results/eval/<run>.json`` for the runs configured in ``params.yaml`` and writes ``results/status.json`` and ``results/status.md``:
one row per paper component (its status derived from the claims tagged with it), one row per run
(mean ± std over seeds, 95% interval, cost figures), and every claim's verdict with the numbers it was
decided from. Refuses to write from a tree whose tracked inputs differ from the commit unless
``--allow-dirty`` (recorded in the table).
"""

from __future__ import annotations

import dataclasses
import logging
import math
from collections import Counter
from pathlib import Path
from typing import Any

from harness.causal.report import align_rows, causal_rows, knowledge_rows, render_align, render_causal, render_knowledge
from harness.causal.settings import causal_of
from harness.claims.claim import KINDS, STATUS_KINDS, VERDICTS
from harness.claims.components import load_components, summarize_components
from harness.claims.engine import judge_all, pipeline_context, profile_results
from harness.claims.forest import FOREST, plot_components
from harness.claims.judges import fmt
from harness.claims.loading import load_claims
from harness.claims.measures import Context
from harness.claims.stats import summarize
from harness.claims.tables import paper_tables
from harness.commands.current import DEFAULT, Freshness, freshness
from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.io import atomic_dir, read_json, write_json, write_text
from harness.core.paths import (
    HEADLINE,
    PAPER_TABLES,
    PLANTED_SST2,
    PLOTS,
    PREPARE_SUMMARY,
    PROFILE_RESULTS,
    PROFILE_RUN,
    RANK_MAP_IMAGES,
    RANK_MAPS,
    RESULTS,
    STATUS,
    STATUS_MD,
    result_file,
)
from harness.core.provenance import record
from harness.core.report_paths import STUDY_HEADLINES
from harness.planted.benchmark import render_summary, summarize_benchmark
from harness.report import task_checks
from harness.report.headline import counts, headline, study_headline
from harness.report.rankmaps import write_rank_map
from harness.report.sweep import plot_sweep, render_sweep, sweep_table

log = logging.getLogger("harness.tabulate")


def load_results(params: Params, ctx: Context) -> dict[str, dict[str, Any]]:
    """Every configured run's train and eval results, as the claims context already loaded them."""
    for run in params.train:
        for kind in ("train", "eval"):
            if kind not in ctx.runs.get(run, {}):
                raise HarnessError(f"{result_file(kind, run)}: missing; run the {kind} stage for run {run!r} (dvc repro {kind}@{run})")
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


def run_label(r: dict[str, Any]) -> str:
    return r["run"] if r["pipeline"] == DEFAULT else f"{r['run']} (study `{r['pipeline']}`)"


def fmt_score(score: dict[str, Any]) -> str:
    if score["mean"] is None:
        return "n/a"
    std = "" if score["std"] is None else f" ± {score['std']:.2f}"
    return f"{score['mean']:.2f}{std} (n={score['n']})"


def render(status: dict[str, Any]) -> str:
    p = status["setup"]
    git = status["provenance"]["git"]
    lines = [
        f"# Reproduction status — profile `{p['profile']}`",
        "",
        f"Model `{p['model']}`; data `{p['source']}` (train {p['sizes']['train']}, validation {p['sizes']['validation']} "
        f"({p['validation_from']}), test {p['sizes']['test']}; test content sha256 `{p['test_sha256'][:12]}`); seeds {p['seeds']} "
        f"(runs may list fewer: see Protocol); git `{(git['sha'] or 'none')[:10]}`"
        + (" (**dirty: written with --allow-dirty**)" if git["dirty"] else "")
        + (f". Majority-class baseline on test: {p['majority']:.2f}. " if p["majority"] is not None else ". Regression (scores): no majority class. ")
        + p["completeness"],
        "",
        "Every figure below comes from the **test** split (SST-2's dev set when the source is SST-2) unless it says "
        "otherwise; every setting was chosen on the **validation** split (see Protocol), never on test.",
        "",
    ]
    lines += render_headline(status["claims"])
    lines += render_studies(status["stale_studies"], sum(bool(c["stale"]) for c in status["claims"]))
    lines += render_profiles(p, status["profiles"])
    lines += [
        "",
        "## Components",
        "",
        f"A component's status comes from the claims tagged with it: only {', '.join(STATUS_KINDS)} claims decide; "
        "ratings (questions of ours, with margins we chose) are counted beside, never alone; a component whose deciding "
        "claims are all exact counts reads *counts only* (a count checks bookkeeping, not an experiment). "
        "Adaptation atlas (every method: memory, speed, quality against the printed ratings): [atlas.md](atlas.md).",
        "",
        "Each component's forest plot shows every claim's estimate, its 90% and 95% intervals and the region it accepts, "
        "one row per claim (invalid and not-run rows say why).",
        "",
        "| component | status | deciding claims | ratings | forest plot |",
        "|---|---|---|---|---|",
    ]
    lines += [f"| {c['title']} | {c['status']} | {counts_text(c['deciding'])} | {counts_text(c['ratings'])} | "
              + (f"[{c['component']}](plots/{FOREST}/{c['component']}.png) |" if c["deciding"] or c["ratings"] else "— |")
              for c in status["components"]]
    metric = status["runs"][0]["metric"] if status["runs"] else "metric"
    lines += [
        "",
        "## Runs",
        "",
        "The default pipeline's runs and each study's (its name beside the run).",
        "",
        f"| run | method | {metric} (mean ± std, n) | 95% CI | trainable params | artifact MB | peak RSS MB | train s / seed | tokens/s |",
        "|---|---|---|---|---|---|---|---|---|",
    ]
    for r in status["runs"]:
        s = r["score"]
        ci = "n/a" if s["ci_low"] is None else "zero spread over seeds" if s["std"] == 0 else f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}]"
        lines.append(
            f"| {run_label(r)} | {r['method']} | {fmt_score(s)} | {ci} | {r['trainable_params']:,} ({r['trainable_pct']:.3f}%) | "
            f"{r['artifact_mb']:.2f} | {r['peak_rss_mb']:.0f} | {r['train_seconds']:.1f} | {r['tokens_per_s']:.0f} |"
        )
    lines += render_protocol(status["tuning"], metric)
    lines += render_task_checks(status["task_checks"], metric)
    lines += render_sweep(status["sweep"], metric, "plots/budget_sweep.png")
    lines += render_truncation(status["truncation"])
    lines += render_summary(status["planted"], status["planted_rank_maps"], "generated inputs (the prepared default task)")
    lines += render_planted_reference(status["planted_sst2"])
    lines += render_causal(status["causal_setup"], status["causal"])
    lines += render_align(status["align"])
    lines += render_knowledge(status["knowledge"], status["knowledge_k"])
    lines += render_claims(status["claims"])
    ranks = [(r["run"], s, rep["rank_pattern"]) for r in status["runs"] for s, rep in r["method_report"].items() if "rank_pattern" in rep]
    if ranks:
        lines += ["", "## Final AdaLoRA ranks per module", ""]
        lines += [f"![{run} rank map]({path})" for run, path in status["rank_maps"].items()]
        lines += ["", "| run | seed | total | ranks (module order) |", "|---|---|---|---|"]
        lines += [f"| {run} | {seed} | {sum(rp.values())} | {' '.join(str(v) for v in rp.values())} |" for run, seed, rp in ranks]
    return "\n".join(lines) + "\n"


KIND_TITLES = {"measurement": "paper-scale measurements", "count": "exact counts from configs",
               "transferred": "paper relations asked at our scale", "rating": "ratings (questions of ours)"}


def counts_text(counts: dict[str, int]) -> str:
    return ", ".join(f"{counts[v]} {v}" for v in VERDICTS if counts.get(v)) or "—"


def render_headline(claims: list[dict[str, Any]]) -> list[str]:
    """Verdicts counted by kind: a paper's verdict, an exact count and a question of ours are never summed."""
    lines = ["| claims by kind | " + " | ".join(VERDICTS) + " | total |", "|---|" + "---|" * (len(VERDICTS) + 1)]
    for kind in KINDS:
        mine = counts(claims, kind)
        lines.append(f"| {KIND_TITLES[kind]} | " + " | ".join(str(mine[v]) for v in VERDICTS) + f" | {sum(mine.values())} |")
    ungated = [c for c in claims if not c["gate"]]
    why = Counter(c["varies_with"] for c in ungated)
    rest = [c["id"] for c in ungated if c["varies_with"] is None]
    parts = [f"{why[v]} on {v} figures" for v in ("wall-clock", "RSS") if why[v]] + ([f"{len(rest)} others ({', '.join(rest)})"] if rest else [])
    return lines + ["", f"Each claim is counted once, under its kind. {len(ungated)} claims are reported but not held by CI "
                        f"(gate: false): {'; '.join(parts) or 'none'}."]


def fmt_value(x: Any) -> str:
    return "—" if x is None else fmt(x)


def interval_text(ev: dict[str, Any] | None) -> str:
    if ev is None:
        return "—"
    if ev["interval_kind"] == "exact":
        return "exact"
    if ev["interval_kind"] == "none":
        return f"none (n={ev['n']})"
    if ev["interval_kind"] == "zero spread":
        return f"zero spread over n={ev['n']}"
    (a, b), (c, d) = ev["ci90"], ev["ci95"]
    spread = "stratified bootstrap" if ev["interval_kind"] == "bootstrap" else f"s={fmt_value(ev['sd'])}"
    return f"90% [{fmt_value(a)}, {fmt_value(b)}]; 95% [{fmt_value(c)}, {fmt_value(d)}]; {spread}, n={ev['n']}"


def p_cell(c: dict[str, Any]) -> str:
    ev = c["evidence"]
    if not ev or ev["p_inside"] is None:
        return "—"
    adj = "" if c["family"] is None else f"; adjusted {fmt_value(c['p_inside_adj'])} / {fmt_value(c['p_outside_adj'])}, {c['family']}"
    return f"in {fmt_value(ev['p_inside'])} / out {fmt_value(ev['p_outside'])}{adj}"


def render_claims(claims: list[dict[str, Any]]) -> list[str]:
    lines = [
        "",
        "## Claims",
        "",
        "Every verdict is recomputable from its row. *estimate*: the judged quantity (ours; for a pair, A - B or A / B); "
        "*effect*: estimate - published. Intervals are Student t over seeds on one fixed eval set (so they cover "
        "seed-to-seed variation, not eval-set sampling). The region is what the claim accepts; an equivalence's delta = "
        "max(stated margin, half a unit of the printed last digit, the paper's spread). *reproduced*: p_in < 0.05 "
        "(two-sided region: the 90% interval inside, TOST; one-sided: the one-sided 95% bound inside); *not reproduced* / "
        "*exceeded* (beyond the region on the better side): p_out < 0.05 (two-sided: the 95% interval outside; one-sided: "
        "the one-sided bound outside); otherwise *inconclusive*. p-values are adjusted first: Holm over each component's "
        "gated claims (a component's status holds its family-wise error), Benjamini-Hochberg over every claim not gated; "
        "each row names its family. Exact counts need no test.",
    ]
    for kind in KINDS:
        mine = [c for c in claims if c["kind"] == kind]
        if not mine:
            continue
        lines += ["", f"### {KIND_TITLES[kind].capitalize()}", "",
                  "| claim | source | published | estimate (effect) | interval | region | p in / out | verdict | why |",
                  "|---|---|---|---|---|---|---|---|---|"]
        for c in mine:
            effect = "" if c["effect"] is None else f" ({c['effect']:+.4g})"
            region = "—" if c["region"] is None else c["region"]["text"] + (
                f" (delta {fmt_value(c['region']['delta'])}: {c['region']['delta_from']})" if c["region"]["delta"] is not None else "")
            why = c["detail"]
            if c["look"]:
                why += f"; seed plan: {plan_text(c['look'])}"
            elif c["seeds_needed"]:
                n, side = c["seeds_needed"]
                likely = "reproduced" if side == "inside" else "not reproduced"
                why += f"; about {n} seeds in all would decide, most likely *{likely}*"
            if c["note"]:
                why += f". {c['note']}"
            verdict = f"**{c['verdict']}**" + (f" (*{c['stale']}*)" if c["stale"] else "") + (
                f" (grid edge: {', '.join(c['grid_edge'])})" if c["grid_edge"] else "")
            lines.append(
                f"| `{c['id']}`: {c['statement']} | {c['source']} | {c['published'] or '—'} | {fmt_value(c['estimate'])}{effect} | "
                f"{interval_text(c['evidence'])} | {region} | {p_cell(c)} | {verdict} | {why} |"
            )
    return lines


def plan_text(look: dict[str, Any]) -> str:
    """A planned claim's look and, while open, what the plan's cap would decide (harness/claims/sequential.py)."""
    text = look["text"]
    if look["at_cap"] is not None:
        outcome = {"inside": "most likely *reproduced*", "outside": "most likely *not reproduced*",
                   "neither": "still undecided"}[look["at_cap"]]
        text += f"; at the cap ({look['cap']} seeds) this mean and spread would leave it {outcome}; next look: {look['next']} seeds (`harness seed-plan`)"
    return text


def rank_maps(rows: list[dict[str, Any]], provenance: dict[str, Any]) -> dict[str, str]:
    """A heatmap (PNG, a DVC plot) and the numbers (JSON) of the final ranks of every AdaLoRA run."""
    written = {}
    for r in rows:
        reports = {s: rep for s, rep in r["method_report"].items() if "rank_pattern" in rep}
        if reports:
            init_r = next(iter(reports.values()))["init_r"]
            write_rank_map(r["run"], {s: rep["rank_pattern"] for s, rep in reports.items()}, init_r, RANK_MAPS, RANK_MAP_IMAGES, provenance)
            written[r["run"]] = str((RANK_MAP_IMAGES / f"{r['run']}.png").relative_to(RESULTS))
    return written


def truncation_rows(params: Params) -> dict[str, dict[str, Any]]:
    """Mean metric over seeds at every truncated rank k, for each run in ``truncate.runs``."""
    rows = {}
    for run in params.truncate.runs:
        path = result_file("truncate", run)
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
            raise HarnessError(f"{result_file('planted', task)}: missing; run the planted stage (dvc repro planted@{task})")
    return {task: ctx.runs[task]["planted"] for task in tasks}


# The benchmark on real sentences: the same stages run in the SST-2 configuration (data.source: local), their
# results/planted files committed here as the classification reference run's are (results/reference/sst2/README.md).
PLANTED_SST2_COMMAND = ("dvc exp run -S data.source=local planted@<each task> (with planted_tune); "
                        f"then copy results/planted/*.json to {PLANTED_SST2}")


def planted_reference(params: Params) -> dict[str, Any]:
    """The benchmark's figures on SST-2 sentences, or why there are none and the command that makes them."""
    tasks = list(params.planted.tasks) if params.planted else []
    missing = [t for t in tasks if not (PLANTED_SST2 / f"{t}.json").is_file()]
    if not tasks or missing:
        return {"not_run": f"no committed results at {PLANTED_SST2} for task(s) {', '.join(missing or ['(none configured)'])}",
                "command": PLANTED_SST2_COMMAND}
    return summarize_benchmark({t: read_json(PLANTED_SST2 / f"{t}.json") for t in tasks})


def render_planted_reference(reference: dict[str, Any] | None) -> list[str]:
    if reference is None:
        return []
    if "not_run" in reference:
        return ["", f"Planted-rank benchmark on SST-2 sentences: not run ({reference['not_run']}); command: `{reference['command']}`"]
    return render_summary(reference, {}, f"SST-2 sentences ({PLANTED_SST2})", preamble=False)


def planted_rank_maps(params: Params, results: dict[str, dict[str, Any]], provenance: dict[str, Any]) -> dict[str, str]:
    """Allocated ranks of the planted-rank students, as heatmaps beside the ones of the runs."""
    written = {}
    for task, res in results.items():
        per_seed = {s: v["adalora"]["ranks"] for s, v in res["seeds"].items()}
        if per_seed:
            name = f"planted_{task}"
            write_rank_map(name, per_seed, params.planted.student.init_r, RANK_MAPS, RANK_MAP_IMAGES, provenance)
            written[task] = str((RANK_MAP_IMAGES / f"{name}.png").relative_to(RESULTS))
    return written


def tuning_rows(params: Params) -> dict[str, dict[str, Any]]:
    """Each run's tuning record (results/tune/<run>.json) as the Protocol section shows it."""
    rows = {}
    for run in params.train:
        path = result_file("tune", run)
        if not path.is_file():
            raise HarnessError(f"{path}: missing; run the tune stage for run {run!r} (dvc repro tune@{run})")
        t = read_json(path)
        rows[run] = {"method": t["method"], "default_lr": t["default_lr"], "chosen_lr": t["chosen_lr"], "seed": t["seed"],
                     "grid": [[g["lr"], g["validation"]] for g in sorted(t["grid"], key=lambda g: g["lr"])],
                     "extended": sum(bool(g.get("extended")) for g in t["grid"]), "grid_edge": t.get("grid_edge"), "seeds": seeds_of(params, params.train[run])}
        if t.get("lengths"):  # training length tuned too: each length's best validation score, and the chosen length
            rows[run]["lengths"] = [[length["steps"], length["validation"]] for length in sorted(t["lengths"], key=lambda length: length["steps"])]
            rows[run]["steps"] = t["steps"]
            if t.get("length_search") == "after_lr":  # the lr grid was searched at the schedule's length only
                rows[run]["grid_steps"] = next(length["steps"] for length in t["lengths"] if length["factor"] == 1.0)
    return rows


PROTOCOL = (
    "Every trained run gets the same learning-rate budget (stage `tune`, harness/stages/tune.py): its default lr "
    "(params.yaml: the method paper's printed value where there is one) times each factor of `tuning.factors`, the "
    "full schedule at one seed, scored on the validation split; the best score feeds all its seeds (ties: the factor "
    "nearest 1). Where the best sits on an edge of the grid, the grid grows that way by the same rule for every run "
    "(`tuning.extend_*`: points `extend_step` times further out, `extend_per_round` a round, at most `extend_max` a "
    "side), until the best is interior; a run whose best is still on the edge at that cap reads **grid edge**, here and "
    "in every claim that compares it. Steps, batch and schedule are the same for every method and were fixed before any "
    "result on this task was seen. LoRA+'s ratio lambda stays at 16 (its claim is about a fixed ratio; the paper's code "
    "uses 20). AdaLoRA's singular values start at zero and under Adam move about lr per step while the orthogonality "
    "penalty dominates its first steps, so at its published 8e-4 a 200-step run leaves the update near zero: the grid, "
    "not a hand-picked lr, decides how far above it the run's lr goes."
)


def profile_rows(ctx: Context) -> list[dict[str, Any]]:
    """Each other profile whose results are in results/profiles/: what it ran on, at which commit, how long it took
    and where, and its runs' primary metric (its claims are in the claims table with everyone else's)."""
    rows = []
    for name, params in profile_results(RESULTS).items():
        if name not in ctx.profiles:
            continue
        folder = PROFILE_RESULTS / name
        runs = ctx.profiles[name].runs
        run_record = read_json(folder / PROFILE_RUN)
        done = [r for r in params.train if {"train", "eval"} <= set(runs.get(r, {}))]
        rows.append({
            "profile": name,
            "model": params.model.name,
            "data": data_text(params, read_json(folder / PREPARE_SUMMARY.name) if (folder / PREPARE_SUMMARY.name).is_file() else None),
            "run": run_record,
            "runs": [{**{k: v for k, v in run_row(r, runs[r], params.data.metrics[0]).items() if k in ("run", "method", "metric", "score", "steps")},
                      **tuned_choice(runs[r].get("tune"))} for r in done],
            "not_run": [r for r in params.train if r not in done],
        })
    return rows


def tuned_choice(tune: dict[str, Any] | None) -> dict[str, Any]:
    """What a run's tune stage chose on validation (lr, and the edge it still sat on at the cap), if it tuned; ``tied``
    when every point it trained (each lr, each length) scored the same on validation, so the rule's tie-break (the
    factor nearest 1), not a score, made the choice."""
    if not tune or tune.get("chosen_lr") is None:
        return {}
    points = [*(tune.get("grid") or []), *(g for length in tune.get("lengths") or [] for g in length["grid"])]
    scores = {p["validation"] for p in points if p.get("validation") is not None}
    return {"lr": tune["chosen_lr"], "grid_edge": tune.get("grid_edge"), "tied": len(points) > 1 and len(scores) == 1}


def data_text(params: Params, prepared: dict[str, Any] | None) -> str:
    """Where a profile's data came from and how it was split, in a few words."""
    source, opts = params.data.source, params.data.source_options
    where = {"local": lambda: f"local `{Path(opts.train).parent}`", "hub": lambda: f"hub `{opts.path}` {opts.name or ''}".rstrip()}
    text = where.get(source, lambda: source)()
    if prepared:
        sizes = prepared["sizes"]
        text += f" (train {sizes['train']:,}, validation {sizes['validation']:,}, test {sizes['test']:,})"
    return text


def tuned_text(r: dict[str, Any]) -> str:
    """A profile run's training choice beside its score: lr and steps chosen on validation, and a grid edge at the cap."""
    if "lr" not in r:
        return ""
    return (f"; lr {r['lr']:.2g}, {r['steps']} steps" + (f", **grid edge**: {r['grid_edge']}" if r["grid_edge"] else "")
            + (", **every lr and length tied on validation**" if r["tied"] else ""))


def render_profiles(setup: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = ["", "## Profiles", "",
             f"Every claim is judged against the profile it names. This pipeline's results are profile `{setup['profile']}`'s; "
             "each profile below ran in its own checkout with `harness run-profile <name>` and keeps its results in "
             "`results/profiles/<name>/` (its params, provenance and run record beside them). Primary metric on each "
             "profile's test split: mean [95% interval] over seeds, with the lr and training steps its tune stage chose on "
             "validation (a choice still at the edge of its grid at the cap says so, and so does one where every point tied: "
             "the tie-break chose it, not a score).", "",
             "| profile | data | model | runs | commit | wall time | machine |", "|---|---|---|---|---|---|---|"]
    for p in rows:
        run = p["run"]
        scores = "; ".join(f"{r['run']} {fmt_value(r['score']['mean'])} [{fmt_value(r['score']['ci_low'])}, "
                           f"{fmt_value(r['score']['ci_high'])}] (n={r['score']['n']}{tuned_text(r)})" for r in p["runs"])
        if p["not_run"]:
            scores += f"; not run: {', '.join(p['not_run'])}"
        hw, git = run["provenance"]["hardware"], run["provenance"]["git"]
        machine = f"{hw.get('cpu_model') or hw.get('machine')}, {hw['cpu_count']} cores" + (f", {hw['cuda']}" if hw.get("cuda") else "")
        metric = p["runs"][0]["metric"] if p["runs"] else ""
        lines.append(f"| `{p['profile']}` | {p['data']} | `{p['model']}` | {metric}: {scores} | `{(git['sha'] or 'none')[:10]}`"
                     f"{' (dirty)' if git['dirty'] else ''} | {run['wall_seconds'] / 60:.1f} min "
                     f"(`{run['command']}`{f', {n} invocations' if (n := len(run['invocations'])) > 1 else ''}) | {machine} |")
    return lines


def render_protocol(tuning: dict[str, dict[str, Any]], metric: str) -> list[str]:
    lines = ["", "## Protocol", "", PROTOCOL, "",
             f"| run | method | default lr | validation {metric} at each lr | chosen lr | seeds |", "|---|---|---|---|---|---|"]
    edges = 0
    for run, t in tuning.items():
        if t["chosen_lr"] is None:
            lines.append(f"| {run} | {t['method']} | — | no gradient steps: nothing to tune | — | {len(t['seeds'])} |")
            continue
        if len(t["grid"]) == 1:
            lines.append(f"| {run} | {t['method']} | {t['default_lr']:.2g} | one grid point: not tuned | **{t['chosen_lr']:.2g}** | {len(t['seeds'])} |")
            continue
        grid = ", ".join(f"{lr:.2g}: {_score(v)}" for lr, v in t["grid"])
        if t.get("lengths") and "grid_steps" in t:
            at_lr = ", ".join(f"{steps}: {_score(v)}" for steps, v in t["lengths"])
            grid = f"at {t['grid_steps']} steps: {grid}; at its best lr, each length (steps) {at_lr}; **{t['steps']} steps** chosen"
        elif t.get("lengths"):
            best = ", ".join(f"{steps}: {_score(v)}" for steps, v in t["lengths"])
            grid = f"best at each length (steps) {best}; at **{t['steps']} steps**: {grid}"
        extended = f" ({t['extended']} added at an edge)" if t["extended"] else ""
        edges += t["grid_edge"] is not None
        edge = f" (**grid edge**: {t['grid_edge']}, at the cap)" if t["grid_edge"] else ""
        lines.append(f"| {run} | {t['method']} | {t['default_lr']:.2g} | {grid}{extended} | **{t['chosen_lr']:.2g}**{edge} | {len(t['seeds'])} |")
    if edges:
        lines += ["", f"{edges} run(s) still chose an lr at the edge of the grid after extending it to the cap: their best may "
                  "lie beyond it, so a gap between methods that involves them may be a gap in tuning (their claims say so)."]
    return lines


def _score(value: float | None) -> str:
    """A validation score of the Protocol table: one decimal, or "diverged" (no score)."""
    return "diverged" if value is None else f"{value:.1f}"


def render_task_checks(checks: dict[str, Any] | None, metric: str) -> list[str]:
    return [] if checks is None else task_checks.render(checks, metric)


def completeness(rows: list[dict[str, Any]], seeds: dict[str, list[int]]) -> str:
    """Did every configured run finish each of its seeds with a finite loss and metric? (no method named)"""
    short = [r["run"] for r in rows if r["score"]["n"] < len(seeds[r["run"]])]
    diverged = [r["run"] for r in rows if r["steps"] > 0 and (r["final_loss"] is None or not math.isfinite(r["final_loss"]))]
    if not short and not diverged:
        counts = sorted({len(v) for v in seeds.values()}, reverse=True)
        return f"All {len(rows)} runs completed their seeds ({' or '.join(map(str, counts))}) with a finite loss and metric."
    return f"Incomplete: {', '.join(short)} lack seeds; {', '.join(diverged) or 'none'} diverged."


def run(params: Params, allow_dirty: bool = False) -> dict[str, Any]:
    provenance = record(seeds=params.seeds)
    if provenance["git"]["dirty"] and not allow_dirty:
        raise HarnessError("tabulate: tracked inputs differ from the commit (git status); commit them, or pass --allow-dirty "
                           "to write a table marked dirty")
    prepared = read_json(PREPARE_SUMMARY)
    ctx = pipeline_context(params, RESULTS)
    results = load_results(params, ctx)
    pipelines = freshness()
    owner = {out: name for name, f in pipelines.items() for out in f.outputs}
    rows = [{**run_row(run, res, params.data.metrics[0]), "pipeline": owner.get(str(result_file("eval", run)))}
            for run, res in results.items()]
    majority = prepared["majority_class_test_accuracy"]
    status = {
        "setup": {
            "profile": params.profile,
            "model": params.model.name,
            "source": prepared["source"],
            "sizes": prepared["sizes"],
            "validation_from": prepared["validation_from"],
            "test_sha256": prepared["content_sha256"]["test"],
            "seeds": params.seeds,
            "majority": majority,
            "completeness": completeness(rows, {run: seeds_of(params, params.train[run]) for run in params.train}),
        },
        "provenance": {**provenance, "data": prepared["content_sha256"], "allow_dirty": allow_dirty},
        "runs": rows,
    }
    status["profiles"] = profile_rows(ctx)
    status["tuning"] = tuning_rows(params)
    status["task_checks"] = task_checks.run_checks(ctx.runs, params.data.metrics[0]) if params.data.source == "synthetic_sentiment" else None
    status["rank_maps"] = rank_maps(rows, status["provenance"])
    status["truncation"] = truncation_rows(params)
    status["sweep"] = sweep_table(params.sweep, results, params.data.metrics[0])
    if status["sweep"]:
        plot_sweep(status["sweep"], params.data.metrics[0], PLOTS / "budget_sweep.png")
    planted = planted_results(params, ctx)
    status["planted"] = summarize_benchmark(planted) if planted else None
    status["planted_sst2"] = planted_reference(params) if planted else None
    status["planted_rank_maps"] = planted_rank_maps(params, planted, status["provenance"])
    causal = causal_of(params)
    status["causal"] = causal_rows(causal, ctx)
    status["causal_setup"] = {"model": causal.model, "task": causal.task} if causal else None
    status["align"] = align_rows(causal, ctx)
    status["knowledge"] = knowledge_rows(causal, ctx)
    status["knowledge_k"] = causal.knowledge.k if causal and causal.knowledge else None
    loaded = load_claims(check_runs=False)
    claims = judge_all(loaded, ctx)
    studies = {name: f for name, f in pipelines.items() if name != DEFAULT and f.stale}
    status["stale_studies"] = {name: study.as_dict() for name, study in studies.items()}
    reads = studies_read(loaded, params.profile, pipelines)
    marks = stale_marks(reads, studies)
    for claim in claims:
        claim["stale"] = marks.get(claim["id"])
    status["claims"] = claims
    status["components"] = summarize_components(claims, load_components())
    write_json(STATUS, status)
    status = read_json(STATUS)  # the table renders exactly what the JSON holds, nothing more
    write_text(STATUS_MD, render(status))
    write_json(HEADLINE, headline(status))
    with atomic_dir(PLOTS / FOREST) as out:
        plot_components(status, out)
    with atomic_dir(STUDY_HEADLINES) as out:
        for study in sorted(set(pipelines) - {DEFAULT}):
            write_json(out / f"{study}.json", study_headline(study, status, {c for c, read in reads.items() if study in read}))
    write_tables(paper_tables(loaded, claims))
    log.info("tabulate: %s", ", ".join(f"{c['component']}: {c['status']}" for c in status["components"]))
    return status


def measure_reads(measure: Any) -> set[tuple[str, str, str]]:
    """(profile, result kind, run) of every results file a claim's measure reads, its pairs' sides included."""
    found: set[tuple[str, str, str]] = set()
    if dataclasses.is_dataclass(measure):
        profile = getattr(measure, "profile", "smoke")
        if isinstance(getattr(measure, "run", None), str):
            found.add((profile, getattr(measure, "file", "train"), measure.run))
        for name in ("full_run", "peft_run"):  # the memory model's two runs
            if isinstance(getattr(measure, name, None), str):
                found.add((profile, "train", getattr(measure, name)))
        for f in dataclasses.fields(measure):
            found |= measure_reads(getattr(measure, f.name))
    return found


def studies_read(loaded: list[Any], profile: str, pipelines: dict[str, Freshness]) -> dict[str, set[str]]:
    """Claim id -> the studies whose results its measure reads (the default's own results are not a study's)."""
    owner = {out: f.pipeline for f in pipelines.values() if f.pipeline != DEFAULT for out in f.outputs}
    return {claim.id: {owner[f] for p, kind, run in measure_reads(claim.measure) if p == profile
                       if (f := str(result_file(kind, run))) in owner} for claim in loaded}


def stale_marks(reads: dict[str, set[str]], studies: dict[str, Freshness]) -> dict[str, str]:
    """Claim id -> "stale since <commit>: <what changed>" for every claim judged on a stale study's (``studies``)
    results."""
    marks = {}
    for claim, read in reads.items():
        stale = sorted(read & set(studies))
        if stale:
            marks[claim] = "; ".join(f"study `{name}` {studies[name].mark()}" for name in stale)
    return marks


def render_studies(stale: dict[str, dict[str, Any]], marked: int) -> list[str]:
    lines = ["", "## Studies", "",
             "Each study is a pipeline of its own (`studies/<name>/`), rerun apart from this default one "
             "(`make study STUDY=<name>`; `make repro-all` for all). A study whose results are stale for the committed code, "
             "params or data is listed here; every claim judged on its results says so beside its verdict."]
    if not stale:
        return lines + ["", "Every study's results are current."]
    lines += ["", f"{marked} claims are judged on stale results.", "", "| study | results of | stages to rerun | what changed |", "|---|---|---|---|"]
    for name, s in stale.items():
        lines.append(f"| {name} | `{s['since'] or 'never run'}` | {len(s['stale'])} | {'; '.join(s['changed'][:4])}"
                     + (f" and {len(s['changed']) - 4} more" if len(s["changed"]) > 4 else "") + " |")
    return lines


def write_tables(tables: dict[str, str]) -> None:
    """``results/tables/`` holds exactly the tables the claims give: a table no claim fills any more is removed."""
    for stale in set(PAPER_TABLES.glob("*.md")) - {PAPER_TABLES / name for name in tables}:
        stale.unlink()
    for name, text in tables.items():
        write_text(PAPER_TABLES / name, text)


def main(argv: list[str]) -> None:
    if argv not in ([], ["--allow-dirty"]):
        raise HarnessError(f"harness tabulate: unknown arguments {' '.join(argv)!r}; allowed: --allow-dirty")
    run(load_params(), allow_dirty=argv == ["--allow-dirty"])
