"""Budget sweep: metric against the parameters each run's artifact needs, per series (LoRA, AdaLoRA, ...).

The budget axis is ``effective_params`` (what the trained artifact stores: AdaLoRA's kept triplets,
not the initial ``init_r`` ones), so points at the same x are at equal budget. Intervals are 95%
t-intervals over seeds.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.claims.stats import summarize


def sweep_table(series: dict[str, list[str]], runs: dict[str, dict[str, Any]], metric: str) -> dict[str, list[dict[str, Any]]]:
    table = {}
    for name, members in series.items():
        points = []
        for run in members:
            train, ev = runs[run]["train"]["seeds"], runs[run]["eval"]["seeds"]
            seeds = sorted(ev, key=int)
            points.append({
                "run": run,
                "effective_params": summarize(train[s].get("effective_params", train[s]["trainable_params"]) for s in seeds)["mean"],
                "score": summarize(ev[s]["metrics"][metric] for s in seeds),
            })
        table[name] = points
    return table


def render_sweep(table: dict[str, list[dict[str, Any]]], metric: str, image: str) -> list[str]:
    if not table:
        return []
    lines = ["", "## Budget sweep (metric vs parameters the artifact stores; 95% CI over seeds)", "", f"![budget sweep]({image})", "",
             f"| series | run | params stored | {metric} mean ± std | 95% CI |", "|---|---|---|---|---|"]
    for name, points in table.items():
        for p in points:
            s = p["score"]
            ci = "n/a" if s["ci_low"] is None else f"[{s['ci_low']:.2f}, {s['ci_high']:.2f}]"
            std = "" if s["std"] is None else f" ± {s['std']:.2f}"
            lines.append(f"| {name} | {p['run']} | {p['effective_params']:,.0f} | {s['mean']:.2f}{std} | {ci} |")
    return lines


def plot_sweep(table: dict[str, list[dict[str, Any]]], metric: str, path: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fig, ax = plt.subplots(figsize=(5.5, 3.8))
    for name, points in table.items():
        x = [p["effective_params"] for p in points]
        y = [p["score"]["mean"] for p in points]
        err = [[m - (p["score"]["ci_low"] if p["score"]["ci_low"] is not None else m) for m, p in zip(y, points)],
               [(p["score"]["ci_high"] if p["score"]["ci_high"] is not None else m) - m for m, p in zip(y, points)]]
        ax.errorbar(x, y, yerr=err, marker="o", capsize=3, label=name)
    ax.set_xscale("log")
    ax.set_xlabel("parameters stored by the adapter (log)")
    ax.set_ylabel(f"{metric} (mean, 95% CI)")
    ax.legend()
    ax.grid(alpha=0.3)
    fig.tight_layout()
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=100)
    plt.close(fig)
