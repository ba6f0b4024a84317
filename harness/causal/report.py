"""The causal track's part of the status table: one row per causal run and the in-context row."""

from __future__ import annotations

from typing import Any

from harness.causal.evaluation import ICL, METRICS
from harness.causal.settings import CausalConfig, rag_name, rag_names
from harness.claims.measures import Context
from harness.claims.stats import summarize
from harness.core.errors import HarnessError


def causal_rows(causal: CausalConfig | None, ctx: Context) -> list[dict[str, Any]]:
    if causal is None:
        return []
    rows = []
    retrieved = rag_names(causal)
    trained_as = {rag_name(m): m for m in (causal.rag.models if causal.rag else ()) if m != "base"}  # a run asked with retrieval
    for name in [*causal.runs, ICL, *retrieved]:
        res = ctx.runs.get(name, {})
        if "causal_eval" not in res or (name not in (ICL, *retrieved) and "causal_train" not in res):
            missing = "results/causal/eval" if "causal_eval" not in res else "results/causal/train"
            raise HarnessError(f"{missing}/{name}.json: missing; run dvc repro (causal stages for {name!r})")
        ev = res["causal_eval"]["seeds"]
        seeds = sorted(ev, key=int)
        train = ctx.runs.get(trained_as.get(name, name), {}).get("causal_train", {}).get("seeds")
        names = sorted({m for task in METRICS.values() for m in task})
        row = {
            "run": name,
            "method": res["causal_eval"]["method"],
            "shots": res["causal_eval"]["shots"],
            "metrics": {m: summarize(ev[s]["metrics"].get(m) for s in seeds) for m in names if any(m in ev[s]["metrics"] for s in seeds)},
            "not_run": {m: why for s in seeds for m, why in ev[s].get("not_run", {}).items()},
            "artifact_mb": summarize(ev[s]["artifact_bytes"] / 2**20 for s in seeds)["mean"],
            "n_seeds": len(seeds),
        }
        if train:
            first = train[seeds[0]]
            row.update(
                trainable_params=first["trainable_params"],
                trainable_pct=100.0 * first["trainable_params"] / first["total_params"],
                train_seconds=summarize(train[s]["train_seconds"] for s in seeds)["mean"],
                tokens_per_s=summarize(train[s]["tokens_per_s"] for s in seeds)["mean"],
                peak_rss_mb=summarize(train[s]["memory"]["peak_rss_mb"] for s in seeds)["mean"],
            )
        rows.append(row)
    return rows


COLUMNS = [("bleu", "BLEU"), ("nist", "NIST"), ("meteor", "METEOR"), ("rouge_l", "ROUGE-L"), ("cider", "CIDEr"),
           ("ref_word_perplexity", "ref. ppl"), ("word_perplexity", "word ppl")]


def render_causal(setup: dict[str, str] | None, rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    cols = [(k, label) for k, label in COLUMNS if any(k in r["metrics"] or k in r["not_run"] for r in rows)]
    lines = ["", f"## Causal-LM track: `{setup['model']}` on `{setup['task']}` (lm-eval; mean ± std over seeds)", "",
             "| run | method | " + " | ".join(label for _, label in cols) + " | trainable params | artifact MB | train s / seed | tokens/s |",
             "|---|---|" + "---|" * (len(cols) + 4)]
    for r in rows:
        cells = []
        for k, _ in cols:
            s = r["metrics"].get(k)
            cells.append("not run" if s is None else f"{s['mean']:.2f}" + ("" if s["std"] is None else f" ± {s['std']:.2f}"))
        method = r["method"] + (f" ({r['shots']}-shot)" if r["shots"] else "")
        cost = (f"{r['trainable_params']:,} ({r['trainable_pct']:.2f}%) | {r['artifact_mb']:.2f} | {r['train_seconds']:.1f} | {r['tokens_per_s']:.0f}"
                if "trainable_params" in r else "0 (no training) | 0 | 0 | —")
        lines.append(f"| {r['run']} | {method} | " + " | ".join(cells) + f" | {cost} |")
    reasons = {m: why for r in rows for m, why in r["not_run"].items()}
    lines += ["", *(f"- {m}: not run — {why}" for m, why in reasons.items())] if reasons else []
    return lines


ALIGN_COLUMNS = [("preference_accuracy", "preference acc. %"), ("coverage", "coverage %"), ("contradiction_rate", "contradicts %"),
                 ("complete", "complete %"), ("bleu", "BLEU (greedy)"), ("reward_accuracy", "trl reward acc. %"), ("reward_margin", "trl reward margin")]
ALIGN_COSTS = [("train_seconds", "train s"), ("tokens_per_s", "tokens/s")]


def align_rows(causal: CausalConfig | None, ctx: Context) -> list[dict[str, Any]]:
    """One row per SFT-then-DPO run and phase: held-out quality and the phase's cost, mean ± std over seeds."""
    if causal is None or causal.align is None:
        return []
    rows = []
    for name, spec in causal.align.runs.items():
        res = ctx.runs.get(name, {}).get("causal_align")
        if res is None:
            raise HarnessError(f"results/causal/align/{name}.json: missing; run dvc repro causal_align@{name}")
        seeds = sorted(res["seeds"], key=int)
        for phase in ("sft", "dpo"):
            figures = [res["seeds"][s][phase] for s in seeds]
            rows.append({
                "run": name, "sft_run": spec.sft_run, "phase": phase, "n_seeds": len(seeds),
                "trainable_params": res["seeds"][seeds[0]]["trainable_params"],
                "eval": {k: summarize(f["eval"][k] for f in figures) for k, _ in ALIGN_COLUMNS if k in figures[0]["eval"]},
                "cost": {k: summarize(f[k] for f in figures)["mean"] for k, _ in ALIGN_COSTS},
                "training_mb": summarize(f["memory"]["training_mb"] for f in figures)["mean"],
                "example": figures[0]["eval"]["examples"][0],
            })
    return rows


def render_align(rows: list[dict[str, Any]]) -> list[str]:
    if not rows:
        return []
    lines = ["", "## SFT then DPO (trl, causal track; mean ± std over seeds)", "",
             "Both phases are scored on preference pairs and greedy outputs built from the test MRs (never trained on). "
             "Preference acc. = pairs whose chosen response the policy gives the higher log-probability; coverage = "
             "attributes of the MR the output realises; contradicts = outputs stating another value of some attribute; "
             "complete = outputs covering every attribute without contradiction (harness/causal/preference.py's judge). "
             "trl's reward accuracy and margin are DPO's implicit reward against the frozen SFT model.", "",
             "| run | phase | " + " | ".join(label for _, label in ALIGN_COLUMNS) + " | trainable params | training MB | "
             + " | ".join(label for _, label in ALIGN_COSTS) + " |",
             "|---|---|" + "---|" * (len(ALIGN_COLUMNS) + 2 + len(ALIGN_COSTS))]
    for r in rows:
        cells = []
        for k, _ in ALIGN_COLUMNS:
            s = r["eval"].get(k)
            cells.append("—" if s is None else f"{s['mean']:.2f}" + ("" if s["std"] is None else f" ± {s['std']:.2f}"))
        phase = f"SFT ({r['sft_run']})" if r["phase"] == "sft" else "+ DPO"
        costs = " | ".join(f"{r['cost'][k]:.1f}" if k == "train_seconds" else f"{r['cost'][k]:.0f}" for k, _ in ALIGN_COSTS)
        lines.append(f"| {r['run']} | {phase} | " + " | ".join(cells) + f" | {r['trainable_params']:,} | {r['training_mb']:.0f} | {costs} |")
    lines += ["", "A greedy output of each phase (seed 0, first test MR):", ""]
    lines += [f"- {r['run']} {r['phase'].upper()}: `{r['example']['output']}`" for r in rows]
    return lines


KNOWLEDGE_COLUMNS = [("changed_accuracy", "changed facts right %"), ("stale_rate", "changed facts stale %"),
                     ("unchanged_accuracy", "unchanged facts %"), ("fact_accuracy", "all facts %")]


def knowledge_rows(causal: CausalConfig | None, ctx: Context) -> list[dict[str, Any]]:
    """One row per knowledge-update arm: accuracy on the current facts and what answering cost, over seeds."""
    if causal is None or causal.knowledge is None:
        return []
    rows = []
    for name, arm in causal.knowledge.arms.items():
        res = ctx.runs.get(name, {}).get("causal_knowledge")
        if res is None:
            raise HarnessError(f"results/causal/knowledge/{name}.json: missing; run dvc repro causal_knowledge@{name}")
        figures = [res["seeds"][s] for s in sorted(res["seeds"], key=int)]
        hits = [f["retrieval"]["hit_at_1"] for f in figures if f.get("retrieval")]
        rows.append({
            "arm": name, "run": arm.run, "context": arm.context, "train_context": res.get("train_context"), "n_seeds": len(figures),
            "scores": {k: summarize(f[k] for f in figures) for k, _ in KNOWLEDGE_COLUMNS},
            "trainable_params": figures[0]["trainable_params"],
            "cost": {k: summarize(f[k] for f in figures)["mean"] for k in ("setup_seconds", "index_seconds", "retrieval_ms", "answer_ms", "prompt_tokens")},
            "arm_mb": summarize(f["memory"]["arm_mb"] for f in figures)["mean"],
            "hit_at_1": summarize(hits)["mean"] if hits else None,
            "example": figures[0]["examples"][0],
            "changed": len(res["changes"]),
        })
    return rows


def render_knowledge(rows: list[dict[str, Any]], k: int) -> list[str]:
    if not rows:
        return []
    first = rows[0]
    lines = ["", "## Knowledge update: fine-tuning vs retrieval (causal track; mean ± std over seeds)", "",
             f"E2E's 30 venues with fixed facts (eat type, food, price range, area); after training, {first['changed']} venues get one "
             "fact changed. Every arm describes every venue from its name; the attribute judge reads each answer against the "
             "current facts (harness/causal/knowledge.py). Right = the new value said and the old not; stale = the old value "
             f"said. Context: none (closed book), {k} random store documents, or the {k} BM25 retrieves from the updated "
             "store. Trained arms learned the facts as they were, with their training context; memory = weights + peak RSS "
             "growth over everything the arm does (training, index, answers), each seed in a fresh process.", "",
             "| arm | model | context (train → ask) | " + " | ".join(label for _, label in KNOWLEDGE_COLUMNS)
             + " | trainable params | setup s (train + index) | retrieval ms / query | answer ms / query | prompt tokens | memory MB | hit@1 % |",
             "|---|---|---|" + "---|" * (len(KNOWLEDGE_COLUMNS) + 7)]
    for r in rows:
        cells = [f"{s['mean']:.1f}" + ("" if s["std"] is None else f" ± {s['std']:.1f}") for s in (r["scores"][key] for key, _ in KNOWLEDGE_COLUMNS)]
        context = f"{r['train_context']} → {r['context']}" if r["train_context"] else r["context"]
        c = r["cost"]
        hit = "—" if r["hit_at_1"] is None else f"{r['hit_at_1']:.0f}"
        lines.append(f"| {r['arm']} | {r['run'] or 'base (untrained)'} | {context} | " + " | ".join(cells)
                     + f" | {r['trainable_params']:,} | {c['setup_seconds']:.2f} | {c['retrieval_ms']:.2f} | {c['answer_ms']:.1f} | "
                     f"{c['prompt_tokens']:.0f} | {r['arm_mb']:.0f} | {hit} |")
    lines += ["", "An answer of each arm (seed 0, first changed venue):", ""]
    lines += [f"- {r['arm']} ({r['example']['venue']}, {r['example']['changed']}): `{r['example']['answer']}`" for r in rows]
    return lines
