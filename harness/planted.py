"""Planted-rank ground truth: a teacher that is the base model plus known low-rank updates.

"Dynamic rank selection allocates rank where the task needs it" cannot be checked on a natural task,
where nobody knows where rank is needed. Here we do: the teacher adds ``dW = s * U V^T`` (rank r, all
singular values ``s = strength * ||W||_2``) to chosen modules and nothing elsewhere. Its labels come
from one fixed linear head on the teacher's pooled features: the sign pattern of their projections on
the directions along which the planted updates move them most relative to the base features' own
spread, each cut at its median so classes balance. The student starts from the base model with that same head, frozen,
so the only way to agree with the teacher is to learn updates inside the encoder — and an allocator
that tracks the task should put its rank on the planted modules, more where more was planted.
"""

from __future__ import annotations

import copy
from typing import Any

import numpy as np
import torch
from scipy.stats import spearmanr
from torch import nn

from harness.errors import HarnessError
from harness.stats import summarize


def resolve_modules(model: nn.Module, spec: dict[str, int], candidates: list[str], where: str) -> dict[str, int]:
    """Planted rank for every candidate module (0 where nothing is planted); ``spec`` keys are name suffixes."""
    planted = dict.fromkeys(candidates, 0)
    for suffix, rank in spec.items():
        hits = [name for name in candidates if name == suffix or name.endswith("." + suffix)]
        if len(hits) != 1:
            raise HarnessError(
                f"{where}.{suffix}: matches {len(hits)} adapted modules, need exactly one; "
                f"e.g. {', '.join(c.split('.', 2)[-1] for c in candidates[:3])}"
            )
        weight = dict(model.named_modules())[hits[0]].weight
        if rank > min(weight.shape):
            raise HarnessError(f"{where}.{suffix}: rank {rank} exceeds the module's {tuple(weight.shape)} weight")
        planted[hits[0]] = rank
    return planted


def adapted_modules(model: nn.Module, target_modules: list[str]) -> list[str]:
    """Linear modules whose last name part is a target (how peft matches a list of names), in model order."""
    return [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and n.split(".")[-1] in target_modules]


def plant(model: nn.Module, planted: dict[str, int], strength: float, seed: int) -> dict[str, torch.Tensor]:
    """Add a rank-r update with equal singular values to each planted module (in place); return the updates."""
    gen = torch.Generator().manual_seed(seed)
    modules = dict(model.named_modules())
    deltas = {}
    with torch.no_grad():
        for name, rank in planted.items():
            if rank == 0:
                continue
            W = modules[name].weight
            U, _ = torch.linalg.qr(torch.randn(W.shape[0], rank, generator=gen, dtype=torch.float64))
            V, _ = torch.linalg.qr(torch.randn(W.shape[1], rank, generator=gen, dtype=torch.float64))
            sigma = strength * float(torch.linalg.matrix_norm(W.double(), ord=2))
            delta = (sigma * U @ V.T).to(W.dtype)
            W.add_(delta)
            deltas[name] = delta
    return deltas


@torch.no_grad()
def head_features(model: nn.Module, loader) -> torch.Tensor:
    """What the classification head sees (BERT: the pooled [CLS] features), for every example in order."""
    head = getattr(model, "classifier", None)
    if not isinstance(head, nn.Linear):
        raise HarnessError("planted: needs a model whose `classifier` is one linear layer (BERT-style heads)")
    seen: list[torch.Tensor] = []
    handle = head.register_forward_hook(lambda module, inputs, output: seen.append(inputs[0].detach()))
    try:
        model.eval()
        for batch in loader:
            batch.pop("labels", None)
            model(**batch)
    finally:
        handle.remove()
    return torch.cat(seen).float()


def teacher_head(teacher_h: torch.Tensor, base_h: torch.Tensor, directions: int, ridge: float = 1e-3) -> tuple[torch.Tensor, torch.Tensor]:
    """A linear head with ``2**directions`` classes: the class is the sign pattern of the feature's
    projections on the directions along which the planted updates move the features most *relative to
    how much the base features already vary there* (top generalised eigenvectors of the change's
    covariance against the base covariance), each cut at its median. Measured against the raw change
    alone, a small update in a middle layer leaves most labels as the base model would give them; in
    these directions the labels are decided by the planted change.
    """
    n, dim = base_h.shape
    base_c = base_h - base_h.mean(0)
    cov = base_c.T @ base_c / n
    cov = cov + ridge * cov.trace() / dim * torch.eye(dim)
    evals, evecs = torch.linalg.eigh(cov)
    whiten = evecs @ torch.diag(evals.rsqrt()) @ evecs.T
    moved = (teacher_h - base_h) @ whiten
    _, _, Vh = torch.linalg.svd(moved - moved.mean(0), full_matrices=False)
    U = torch.nn.functional.normalize(Vh[:directions] @ whiten, dim=1)  # back to feature space, unit rows
    medians = (teacher_h @ U.T).median(0).values  # (d,)
    signs = torch.tensor([[1.0 if (c >> i) & 1 else -1.0 for i in range(directions)] for c in range(2**directions)])
    # logit_c = sum_i sign_ci * (u_i . h - m_i): largest for the class whose signs match the projections
    return signs @ U, -(signs @ medians)


def labels_of(features: torch.Tensor, weight: torch.Tensor, bias: torch.Tensor) -> np.ndarray:
    return (features @ weight.T + bias).argmax(-1).numpy()


def student_from(base: nn.Module, weight: torch.Tensor, bias: torch.Tensor) -> nn.Module:
    """A copy of the base model carrying the teacher's head (frozen by :func:`freeze_head` after the adapter)."""
    student = copy.deepcopy(base)
    with torch.no_grad():
        student.classifier.weight.copy_(weight)
        student.classifier.bias.copy_(bias)
    return student


def freeze_head(model: nn.Module) -> None:
    """The head is the teacher's and must stay so (peft's SEQ_CLS makes a trainable copy of it)."""
    for name, p in model.named_parameters():
        if ".classifier." in f".{name}":
            p.requires_grad_(False)


def allocation_agreement(allocated: dict[str, int], planted: dict[str, int]) -> dict[str, float]:
    """How well a per-module rank allocation matches the planted ranks.

    ``spearman``: rank correlation over all adapted modules (NaN when either side is constant);
    ``share_on_planted``: fraction of the allocated rank sitting on modules with planted rank > 0, next
    to ``share_by_chance``, the fraction those modules are of all modules.
    """
    names = sorted(planted)
    a = [allocated.get(n, 0) for n in names]
    p = [planted[n] for n in names]
    rho = spearmanr(a, p).statistic if len(set(a)) > 1 and len(set(p)) > 1 else float("nan")
    total = sum(a)
    on = sum(x for x, q in zip(a, p) if q > 0)
    return {
        "spearman": float(rho),
        "share_on_planted": on / total if total else float("nan"),
        "share_by_chance": sum(q > 0 for q in p) / len(p),
    }


def budget_needed(curve: dict[int, float], base: float, full: float, keep: float) -> int | None:
    """Smallest total rank budget whose agreement keeps ``keep`` of the full adapter's gain over the base."""
    goal = base + keep * (full - base)
    return next((b for b in sorted(curve) if curve[b] >= goal), None)


def summary_rows(results: dict[str, dict[str, Any]]) -> list[dict[str, Any]]:
    """Per task, means and 95% intervals over seeds of what the stage measured (for the status table)."""
    rows = []
    for task, res in results.items():
        seeds = res["seeds"].values()
        rows.append({
            "task": task,
            "planted": res["planted"],
            "planted_total_rank": res["planted_total_rank"],
            "base_agreement": res["base_agreement"],
            "agreement": summarize(s["agreement"] for s in seeds),
            "spearman_allocated": summarize(s["allocation"]["spearman"] for s in seeds),
            "share_on_planted": summarize(s["allocation"]["share_on_planted"] for s in seeds),
            "share_by_chance": next(iter(seeds))["allocation"]["share_by_chance"],
            "energy_on_planted": summarize(s["energy_on_planted"] for s in seeds),
            "budget_needed": summarize(s["budget_needed"] for s in seeds),
        })
    return rows


def render_summary(rows: list[dict[str, Any]], rank_maps: dict[str, str]) -> list[str]:
    if not rows:
        return []

    def ci(s: dict[str, Any], digits: int = 2) -> str:
        if s["mean"] is None:
            return "n/a (undefined in every seed)"
        interval = "" if s["ci_low"] is None else f" [{s['ci_low']:.{digits}f}, {s['ci_high']:.{digits}f}]"
        return f"{s['mean']:.{digits}f}{interval} (n={s['n']})"

    lines = ["", "## Planted-rank benchmark (does the allocator put rank where the teacher's updates are?)", "",
             "Agreement = accuracy against the teacher's labels; spearman = rank correlation of allocated and planted rank "
             "over all adapted modules; budget needed = smallest total rank (largest singular values of the learned updates) "
             "keeping the set share of the gain over the untrained student. Means with 95% CI over seeds.", "",
             "| task | planted ranks (total) | untrained | agreement | spearman allocated vs planted | rank share on planted (chance) | update energy on planted | budget needed |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        planted = ", ".join(f"{name.split('.layer.')[-1]}={k}" for name, k in r["planted"].items())
        lines.append(
            f"| {r['task']} | {planted} ({r['planted_total_rank']}) | {r['base_agreement']:.1f} | {ci(r['agreement'])} | "
            f"{ci(r['spearman_allocated'])} | {ci(r['share_on_planted'])} ({r['share_by_chance']:.2f}) | "
            f"{ci(r['energy_on_planted'])} | {ci(r['budget_needed'], 1)} |"
        )
    lines += [""] + [f"![{task} allocation]({path})" for task, path in rank_maps.items()]
    return lines
