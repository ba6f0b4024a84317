"""Stage ``planted@<task>``: does the rank allocator find where rank was planted? (see ``harness/planted.py``)

The teacher's inputs are the prepared texts (first ``planted.n_train`` / ``n_eval`` of each split), its
labels replace the task's. Per seed the student adapter (``planted.student``, an AdaLoRA section) trains
on them through the same loop as every run; then the allocated ranks and the ranks the learned updates
really use are compared with the planted ranks, and a budget curve (agreement with the teacher when
only the B largest singular values of all learned updates are kept) gives the budget the task needs.
Writes ``results/planted/<task>.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import sys
from typing import Any

import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from harness.config import Params, load_params
from harness.errors import HarnessError
from harness.inference import predict, score
from harness.lowrank import (
    adapter_deltas,
    effective_rank,
    global_budget_ranks,
    truncated,
)
from harness.measure import pick_device
from harness.methods import METHODS
from harness.models import load_classifier
from harness.planted import (
    adapted_modules,
    allocation_agreement,
    budget_needed,
    freeze_head,
    head_features,
    labels_of,
    plant,
    resolve_modules,
    student_from,
    teacher_head,
)
from harness.stages.common import load_prepared, set_threads
from harness.stages.evaluate import write_run_result
from harness.training import seed_everything, train, train_loader

log = logging.getLogger("harness.planted")


def relabel(ds, labels) -> Any:
    return ds.remove_columns("labels").add_column("labels", [int(x) for x in labels])


def features(model, ds, tokenizer, batch_size: int) -> torch.Tensor:
    loader = DataLoader(ds.remove_columns("labels"), batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer))
    return head_features(model, loader)


def budget_curve(model, budgets: list[int], agreement) -> dict[int, float]:
    """Agreement when each learned update keeps only its share of the B largest singular values overall."""
    deltas = adapter_deltas(model)
    merged = model.merge_and_unload()
    modules = dict(merged.named_modules())
    base = {name: modules[name].weight.detach() - d for name, d in deltas.items()}
    curve = {}
    with torch.no_grad():
        for b in budgets:
            for name, k in global_budget_ranks(deltas, b).items():
                modules[name].weight.copy_(base[name] + truncated(deltas[name], k))
            curve[b] = agreement(merged)
    return curve


def run(params: Params, task: str) -> dict[str, Any]:
    cfg = params.planted
    if cfg is None:
        raise HarnessError("params.yaml: planted: section missing; the planted-rank stage needs it")
    if task not in cfg.tasks:
        raise HarnessError(f"params.yaml: planted.tasks.{task}: no such task; tasks: {', '.join(cfg.tasks)}")
    method = METHODS.get(cfg.student.method)()
    set_threads(params.loop)
    device = pick_device(params.loop.device)
    splits, tokenizer = load_prepared()
    train_in = splits["train"].select(range(min(cfg.n_train, len(splits["train"]))))
    eval_in = splits["eval"].select(range(min(cfg.n_eval, len(splits["eval"]))))
    batch = params.loop.eval_batch_size

    seed_everything(cfg.seed)
    base = load_classifier(params.model.name, 2**cfg.label_directions, params.model.dtype)
    candidates = adapted_modules(base, list(cfg.student.target_modules))
    planted = resolve_modules(base, cfg.tasks[task], candidates, f"params.yaml: planted.tasks.{task}")
    teacher = copy.deepcopy(base)
    deltas = plant(teacher, planted, cfg.strength, cfg.seed)
    h_teacher, h_base = features(teacher, train_in, tokenizer, batch), features(base, train_in, tokenizer, batch)
    weight, bias = teacher_head(h_teacher, h_base, cfg.label_directions)
    train_ds = relabel(train_in, labels_of(h_teacher, weight, bias))
    eval_labels = labels_of(features(teacher, eval_in, tokenizer, batch), weight, bias)
    eval_ds = relabel(eval_in, eval_labels)
    base_agreement = 100.0 * float((labels_of(features(base, eval_in, tokenizer, batch), weight, bias) == eval_labels).mean())
    del teacher

    def agreement(model) -> float:
        preds, labels, _ = predict(model, eval_ds, tokenizer, batch, device)
        return score(preds, labels, ["accuracy"])["accuracy"]

    loop = dataclasses.replace(params.loop, max_steps=cfg.steps, epochs=0.0, track_every=0, target=None)
    per_seed = {}
    for seed in params.seeds:
        seed_everything(seed)
        model = method.prepare(student_from(base, weight, bias), cfg.student, total_steps=cfg.steps)
        freeze_head(model)
        stats = train(model, method, cfg.student, train_loader(train_ds, tokenizer, loop.batch_size, seed, loop.group_by_length), loop, cfg.steps, device)
        allocated = method.report(model, cfg.student).get("rank_pattern", {})
        updates = adapter_deltas(model)
        learned = {name: effective_rank(d) for name, d in updates.items()}
        energy = {name: float(d.double().square().sum()) for name, d in updates.items()}
        full = agreement(model)
        curve = budget_curve(model, cfg.budgets, agreement)
        per_seed[str(seed)] = {
            "agreement": full,
            "allocated_ranks": allocated,
            "learned_ranks": learned,
            "allocation": allocation_agreement(allocated, planted),
            "learned": allocation_agreement(learned, planted),
            # share of the learned update's squared Frobenius norm on planted modules (chance: module share)
            "energy_on_planted": sum(e for n, e in energy.items() if planted.get(n)) / sum(energy.values()),
            "budget_curve": {str(b): v for b, v in curve.items()},
            "budget_needed": budget_needed(curve, base_agreement, full, cfg.gain_kept),
            "train_seconds": stats.train_seconds,
        }
        s = per_seed[str(seed)]
        log.info("planted %s seed %d: agreement %.2f (base %.2f), spearman allocated %.2f learned %.2f, budget needed %s",
                 task, seed, full, base_agreement, s["allocation"]["spearman"], s["learned"]["spearman"], s["budget_needed"])
    body = {
        "task": task,
        "method": method.name,
        "planted": {name: r for name, r in planted.items() if r},
        "planted_total_rank": sum(planted.values()),
        # the SVD check the test also makes: each planted update has exactly its planted rank
        "teacher_delta_ranks": {name: int(torch.linalg.matrix_rank(d)) for name, d in deltas.items()},
        "base_agreement": base_agreement,
        "label_shares": [float((eval_labels == c).mean()) for c in range(2**cfg.label_directions)],
        "sizes": {"train": len(train_ds), "eval": len(eval_ds)},
        "seeds": per_seed,
    }
    return write_run_result("planted", task, params, body)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness planted <task>")
    run(load_params(), argv[0])
