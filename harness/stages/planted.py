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
from harness.stages.common import load_prepared
from harness.stages.evaluate import write_run_result
from harness.training import seed_everything, train, train_loader
from harness.workers import run_seeds

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


def teacher_labels(params: Params, task: str, splits, tokenizer) -> dict[str, Any]:
    """Plant the task's updates into a copy of the base model and label the benchmark's inputs with it."""
    cfg = params.planted
    train_in, eval_in = inputs(cfg, splits)
    batch = params.loop.eval_batch_size
    base = student_base(params)
    candidates = adapted_modules(base, list(cfg.student.target_modules))
    planted = resolve_modules(base, cfg.tasks[task], candidates, f"params.yaml: planted.tasks.{task}")
    teacher = copy.deepcopy(base)
    deltas = plant(teacher, planted, cfg.strength, cfg.seed)
    h_teacher, h_base = features(teacher, train_in, tokenizer, batch), features(base, train_in, tokenizer, batch)
    weight, bias = teacher_head(h_teacher, h_base, cfg.label_directions)
    eval_labels = labels_of(features(teacher, eval_in, tokenizer, batch), weight, bias)
    return {
        "planted": planted,
        # the SVD check the test also makes: each planted update has exactly its planted rank
        "teacher_delta_ranks": {name: int(torch.linalg.matrix_rank(d)) for name, d in deltas.items()},
        "weight": weight,
        "bias": bias,
        "train_labels": labels_of(h_teacher, weight, bias),
        "eval_labels": eval_labels,
        "base_agreement": 100.0 * float((labels_of(features(base, eval_in, tokenizer, batch), weight, bias) == eval_labels).mean()),
    }


def inputs(cfg, splits) -> tuple[Any, Any]:
    """The first ``n_train`` / ``n_eval`` prepared examples: the benchmark's inputs."""
    return (splits["train"].select(range(min(cfg.n_train, len(splits["train"])))),
            splits["test"].select(range(min(cfg.n_eval, len(splits["test"])))))


def student_base(params: Params):
    """The base model with a head of the benchmark's 2**d classes (the teacher's head replaces it)."""
    seed_everything(params.planted.seed)
    return load_classifier(params.model.name, 2**params.planted.label_directions, params.model.dtype)


def run(params: Params, task: str) -> dict[str, Any]:
    cfg = params.planted
    if cfg is None:
        raise HarnessError("params.yaml: planted: section missing; the planted-rank stage needs it")
    if task not in cfg.tasks:
        raise HarnessError(f"params.yaml: planted.tasks.{task}: no such task; tasks: {', '.join(cfg.tasks)}")
    method = METHODS.get(cfg.student.method)()
    device = pick_device(params.loop.device)
    splits, tokenizer = load_prepared()
    batch = params.loop.eval_batch_size
    # the teacher runs kernels, so it gets a process of its own too: the seeds fork from this one after it
    teacher = run_seeds(lambda _: teacher_labels(params, task, splits, tokenizer), [cfg.seed], threads=params.loop.threads,
                        device=device, log=log, label=f"planted@{task} teacher")[cfg.seed]
    planted = teacher["planted"]
    train_in, eval_in = inputs(cfg, splits)
    train_ds = relabel(train_in, teacher["train_labels"])
    eval_ds = relabel(eval_in, teacher["eval_labels"])

    def agreement(model) -> float:
        preds, labels, _ = predict(model, eval_ds, tokenizer, batch, device)
        return score(preds, labels, ["accuracy"])["accuracy"]

    loop = dataclasses.replace(params.loop, max_steps=cfg.steps, epochs=0.0, track_every=0, target=None)

    def one_seed(seed: int) -> dict[str, Any]:
        base = student_base(params)
        seed_everything(seed)
        model = method.prepare(student_from(base, teacher["weight"], teacher["bias"]), cfg.student, total_steps=cfg.steps)
        freeze_head(model)
        loader = train_loader(train_ds, tokenizer, loop.batch_size, seed, loop.group_by_length)
        stats = train(model, method, cfg.student, loader, loop, cfg.steps, device, label=f"planted@{task} seed {seed}")
        allocated = method.report(model, cfg.student).get("rank_pattern", {})
        updates = adapter_deltas(model)
        learned = {name: effective_rank(d) for name, d in updates.items()}
        energy = {name: float(d.double().square().sum()) for name, d in updates.items()}
        full = agreement(model)
        curve = budget_curve(model, cfg.budgets, agreement)
        figures = {
            "agreement": full,
            "allocated_ranks": allocated,
            "learned_ranks": learned,
            "allocation": allocation_agreement(allocated, planted),
            "learned": allocation_agreement(learned, planted),
            # share of the learned update's squared Frobenius norm on planted modules (chance: module share)
            "energy_on_planted": sum(e for n, e in energy.items() if planted.get(n)) / sum(energy.values()),
            "budget_curve": {str(b): v for b, v in curve.items()},
            "budget_needed": budget_needed(curve, teacher["base_agreement"], full, cfg.gain_kept),
            "train_seconds": stats.train_seconds,
        }
        log.info("planted@%s seed %d: agreement %.2f (base %.2f), spearman allocated %.2f learned %.2f, budget needed %s",
                 task, seed, full, teacher["base_agreement"], figures["allocation"]["spearman"], figures["learned"]["spearman"], figures["budget_needed"])
        return figures

    per_seed = {str(seed): figures for seed, figures in run_seeds(
        one_seed, params.seeds, threads=params.loop.threads, device=device, log=log, label=f"planted@{task}").items()}
    eval_labels = teacher["eval_labels"]
    body = {
        "task": task,
        "method": method.name,
        "planted": {name: r for name, r in planted.items() if r},
        "planted_total_rank": sum(planted.values()),
        "teacher_delta_ranks": teacher["teacher_delta_ranks"],
        "base_agreement": teacher["base_agreement"],
        "label_shares": [float((eval_labels == c).mean()) for c in range(2**cfg.label_directions)],
        "sizes": {"train": len(train_ds), "eval": len(eval_ds)},
        "seeds": per_seed,
    }
    return write_run_result("planted", task, params.seeds, body)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness planted <task>")
    run(load_params(), argv[0])
