"""Stages ``planted_tune`` and ``planted@<task>``: the planted-rank benchmark (see ``harness/planted/benchmark.py``).

``planted_tune`` gives every arm (oracle, negative, uniform LoRA; AdaLoRA) the same learning-rate budget: its
default times each of ``tuning.factors`` (grown at an edge optimum: harness/engine/grid_search.py), trained on ``planted.tune_task`` at ``tuning.seed`` and scored by gap
closed on the first ``planted.n_eval`` validation inputs. ``planted@<task>`` trains every arm at its chosen lr
for every seed of ``planted.seeds`` on the first ``planted.n_train`` training inputs and measures it on the first
``n_eval`` test inputs, where nothing was chosen. Each seed builds the teacher itself (it is deterministic in
``planted.seed`` and cheap), so the stage process runs no kernel and the seeds can fork (harness/core/workers.py).

Writes ``results/planted/tuning.json`` and ``results/planted/<task>.json``.
"""

from __future__ import annotations

import copy
import dataclasses
import logging
import sys
from typing import Any

import torch
from peft import LoraConfig, get_peft_model

from harness.core.config import Params, load_params
from harness.core.errors import HarnessError
from harness.core.io import read_json, write_json
from harness.core.paths import PLANTED_TUNING
from harness.core.provenance import record
from harness.core.registry import METHODS
from harness.core.seeding import seed_everything
from harness.core.workers import run_seeds
from harness.engine.grid_search import Axis, choose, search
from harness.engine.lowrank import adapter_deltas, global_budget_ranks, truncated
from harness.engine.models import load_classifier
from harness.engine.resources import pick_device
from harness.engine.trainer import train, train_loader
from harness.methods.base import peft_task_type
from harness.planted import benchmark as rb
from harness.stages.common import data_hashes, load_prepared, write_run_result

log = logging.getLogger("harness.planted")


@dataclasses.dataclass
class Bench:
    """One planted task, built in the process that trains on it: the base encoder, the teacher, their
    distance on the inputs, and the inputs themselves."""

    params: Params
    task: str
    tokenizer: Any
    encoder: torch.nn.Module
    teacher: torch.nn.Module
    planted: dict[str, int]  # every adapted module's path in the encoder -> planted rank (0: none)
    deltas: dict[str, torch.Tensor]
    train_ds: Any
    eval_loader: Any
    inputs_seen: dict[str, torch.Tensor]  # the planted modules' inputs in the teacher on the scored inputs (recovery)
    scale: float  # the base encoder's distance to the teacher on the training inputs (the loss's unit)
    base_error: float  # ... and on the scored inputs
    device: torch.device


def inputs(splits, split: str, n: int):
    """The first ``n`` examples of a prepared split, labels dropped: the teacher labels them by its states."""
    ds = splits[split]
    return ds.select(range(min(n, len(ds)))).remove_columns([c for c in ("labels",) if c in ds.column_names])


def build(params: Params, task: str, splits, tokenizer, scored: str) -> Bench:
    cfg = params.planted
    device = pick_device(params.loop.device)
    seed_everything(cfg.seed)
    encoder = rb.without_dropout(load_classifier(params.model.name, 2, params.model.dtype).base_model)
    candidates = rb.adapted_modules(encoder, list(cfg.student.target_modules))
    planted = rb.resolve_modules(encoder, cfg.tasks[task], candidates, f"params.yaml: planted.tasks.{task}")
    teacher = copy.deepcopy(encoder)
    deltas = rb.plant(teacher, planted, cfg.strength, cfg.seed)
    batch = params.loop.eval_batch_size
    train_ds = inputs(splits, "train", cfg.n_train)
    loader = rb.eval_loader(inputs(splits, scored, cfg.n_eval), tokenizer, batch)
    base = rb.HiddenStateMatch(encoder, teacher.to(device))
    # the loss's unit, from as many training inputs as are scored (all of them would cost a pass over n_train)
    scale = rb.match_error(base, rb.eval_loader(train_ds.select(range(min(cfg.n_eval, len(train_ds)))), tokenizer, batch), device)
    seen = rb.module_inputs(teacher, list(deltas), loader, device)
    return Bench(params, task, tokenizer, encoder, teacher, planted, deltas, train_ds, loader, seen,
                 scale=scale or 1.0, base_error=rb.match_error(base, loader, device), device=device)


def adapt(bench: Bench, arm: str):
    """The arm's adapted student (from a fresh copy of the base encoder) and the method that trains it."""
    cfg = bench.params.planted
    match = rb.HiddenStateMatch(copy.deepcopy(bench.encoder), bench.teacher, bench.scale)
    if arm == "adalora":
        method = METHODS.get(cfg.student.method)()
        return method.prepare(match, cfg.student, total_steps=cfg.steps), method, cfg.student
    ranks = {rb.STUDENT + name: r for name, r in rb.arm_ranks(arm, bench.planted, cfg.student.target_r).items()}
    lora = LoraConfig(task_type=peft_task_type(match), r=max(ranks.values()), rank_pattern=ranks, target_modules=list(ranks),
                      lora_alpha=cfg.student.alpha, lora_dropout=cfg.student.dropout)
    method = METHODS.get("lora")()
    return get_peft_model(match, lora), method, method.Config(method="lora")


def train_arm(bench: Bench, arm: str, lr: float, seed: int):
    """Train one arm at ``lr`` with the shared loop (AdaLoRA's allocator runs from its ``before_zero_grad``)."""
    cfg = bench.params.planted
    seed_everything(seed)
    model, method, settings = adapt(bench, arm)
    loop = dataclasses.replace(bench.params.loop, max_steps=cfg.steps, epochs=0.0, track_every=0, target=None)
    loader = train_loader(bench.train_ds, bench.tokenizer, loop.batch_size, seed, loop.group_by_length)
    stats = train(model, method, dataclasses.replace(settings, lr=lr), loader, loop, cfg.steps, bench.device,
                  label=f"planted@{bench.task} {arm} seed {seed} lr {lr:g}")
    return model, method, settings, stats


def gap_of(bench: Bench, model) -> float | None:
    return rb.gap_closed(rb.match_error(model, bench.eval_loader, bench.device), bench.base_error)


def budget_curve(bench: Bench, model, budgets: list[int]) -> dict[int, float | None]:
    """Gap closed when the learned updates keep only the B largest singular values over all modules (merges
    the adapters: call last)."""
    deltas = adapter_deltas(model)
    merged = model.merge_and_unload()
    modules = dict(merged.named_modules())
    base = {name: modules[name].weight.detach() - d for name, d in deltas.items()}
    curve = {}
    with torch.no_grad():
        for b in budgets:
            for name, k in global_budget_ranks(deltas, b).items():
                modules[name].weight.copy_(base[name] + truncated(deltas[name], k))
            curve[b] = gap_of(bench, merged)
    return curve


def measure_arm(bench: Bench, arm: str, lr: float, seed: int) -> dict[str, Any]:
    model, method, settings, stats = train_arm(bench, arm, lr, seed)
    cfg = bench.params.planted
    learned = {name.removeprefix(rb.STUDENT): d for name, d in adapter_deltas(model).items()}
    if arm == "adalora":
        ranks = {name.removeprefix(rb.STUDENT): r for name, r in method.report(model, settings)["rank_pattern"].items()}
    else:
        ranks = rb.arm_ranks(arm, bench.planted, cfg.student.target_r)
    energy = {name: float(d.double().square().sum()) for name, d in learned.items()}
    gap = gap_of(bench, model)
    figures = {
        "lr": lr,
        "gap_closed": gap,
        "ranks": ranks,
        "total_rank": sum(ranks.values()),
        "share_on_planted": rb.share_on(ranks, bench.planted) if bench.deltas else None,
        "energy_on_planted": rb.share_on(energy, bench.planted) if bench.deltas else None,
        "recovery": rb.recovery(learned, bench.deltas, bench.planted, bench.inputs_seen) if bench.deltas else None,
        "final_loss": stats.final_loss,
        "train_seconds": stats.train_seconds,
    }
    if arm in ("oracle", "adalora") and bench.deltas:
        curve = budget_curve(bench, model, cfg.budgets)
        figures["budget_curve"] = {str(b): v for b, v in curve.items()}
        figures["budget_needed"] = rb.budget_needed(curve, gap, cfg.gain_kept)
    log.info("planted@%s %s seed %d: gap closed %s, rank share on planted %s", bench.task, arm, seed,
             "n/a" if gap is None else f"{gap:.1f}%", figures["share_on_planted"])
    return figures


def check(params: Params, task: str | None = None) -> None:
    if params.planted is None:
        raise HarnessError("params.yaml: planted: section missing; the planted-rank stages need it")
    if task is not None and task not in params.planted.tasks:
        raise HarnessError(f"params.yaml: planted.tasks.{task}: no such task; tasks: {', '.join(params.planted.tasks)}")


def defaults(params: Params) -> dict[str, float]:
    """Each arm's default learning rate, the one the tuning grid scales: AdaLoRA its section's (else loop.lr),
    the LoRA arms ``loop.lr`` (LoRA's own)."""
    student_lr = params.planted.student.lr or params.loop.lr
    return {arm: student_lr if arm == "adalora" else params.loop.lr for arm in rb.ARMS}


def tune(params: Params) -> dict[str, Any]:
    check(params)
    cfg, factors = params.planted, params.tuning.factors
    splits, tokenizer = load_prepared(("train", "validation"))  # never the test split
    default = defaults(params)

    def one_point(i: int, points: list[tuple[str, float]]) -> dict[str, Any]:
        arm, factor = points[i]
        bench = build(params, cfg.tune_task, splits, tokenizer, scored="validation")
        try:
            model, *_ = train_arm(bench, arm, default[arm] * factor, params.tuning.seed)
        except HarnessError as err:  # a diverged point is a result of the grid
            if "diverged" not in str(err):
                raise
            return {"lr": default[arm] * factor, "factor": factor, "validation": None, "diverged": str(err)}
        return {"lr": default[arm] * factor, "factor": factor, "validation": gap_of(bench, model)}

    def score(points: list[tuple[str, float]]) -> list[dict[str, Any]]:
        done = run_seeds(lambda i: one_point(i, points), list(range(len(points))), threads=params.loop.threads,
                         device=pick_device(params.loop.device), log=log, label="planted_tune (grid points)")
        return [done[i] for i in range(len(points))]

    arms = {}
    if len(factors) == 1:  # nothing to choose (a paper profile's own lr): train nothing here
        for arm in rb.ARMS:
            arms[arm] = {"default_lr": default[arm], "grid": [{"lr": default[arm], "factor": 1.0, "validation": None, "not_trained": "the only grid point"}],
                         "chosen_lr": default[arm], "grid_edge": None}
    else:
        first = score([(arm, f) for arm in rb.ARMS for f in factors])  # every arm's first grid at once, then each arm's extension
        for k, arm in enumerate(rb.ARMS):
            grid, edge = search(first[k * len(factors):(k + 1) * len(factors)], Axis.learning_rate(params.tuning),
                                lambda new, arm=arm: score([(arm, f) for f in new]))
            arms[arm] = {"default_lr": default[arm], "grid": grid, "chosen_lr": grid[choose(grid)]["lr"], "grid_edge": edge}
    for arm, tuned in arms.items():
        log.info("planted_tune %s: %s -> %g", arm, ", ".join(f"{p['lr']:g}: {p['validation']}" for p in tuned["grid"]), tuned["chosen_lr"])
    result = {"task": cfg.tune_task, "split": "validation", "score": "gap_closed", "seed": params.tuning.seed, "arms": arms,
              "provenance": record(seeds=[params.tuning.seed],
                                   data_hashes=data_hashes(("train", "validation")))}
    write_json(PLANTED_TUNING, result)
    return result


def chosen_lrs(params: Params) -> dict[str, float]:
    if not PLANTED_TUNING.is_file():
        raise HarnessError(f"{PLANTED_TUNING}: missing; run the planted_tune stage first (dvc repro planted_tune)")
    arms = read_json(PLANTED_TUNING)["arms"]
    missing = [arm for arm in rb.ARMS if arm not in arms]
    if missing:
        raise HarnessError(f"{PLANTED_TUNING}: no choice for arm {missing[0]}; rerun dvc repro planted_tune")
    return {arm: arms[arm]["chosen_lr"] for arm in rb.ARMS}


def run(params: Params, task: str) -> dict[str, Any]:
    check(params, task)
    cfg = params.planted
    lrs = chosen_lrs(params)
    splits, tokenizer = load_prepared(("train", "test"))
    arms = rb.ARMS if any(cfg.tasks[task].values()) else rb.CONTROL_ARMS

    def one_seed(seed: int) -> dict[str, Any]:
        bench = build(params, task, splits, tokenizer, scored="test")
        figures = {arm: measure_arm(bench, arm, lrs[arm], seed) for arm in arms}
        return {"figures": figures, "planted": bench.planted, "deltas": {n: int(torch.linalg.matrix_rank(d)) for n, d in bench.deltas.items()},
                "base_error": bench.base_error}

    done = run_seeds(one_seed, cfg.seeds, threads=params.loop.threads, device=pick_device(params.loop.device), log=log, label=f"planted@{task}")
    first = done[cfg.seeds[0]]
    planted = first["planted"]
    per_seed = {str(seed): out["figures"] for seed, out in done.items()}
    body = {
        "task": task,
        "arms": list(arms),
        "planted": {name: r for name, r in planted.items() if r},
        "planted_total_rank": sum(planted.values()),
        "modules": len(planted),
        "budget": cfg.student.target_r * len(planted),
        # the SVD check the tests also make: each planted update has exactly its planted rank
        "teacher_delta_ranks": first["deltas"],
        "base_error": first["base_error"],
        "share_by_chance": sum(r > 0 for r in planted.values()) / len(planted),
        "validity": rb.task_validity(per_seed, cfg.positive_min, cfg.negative_max) if "oracle" in arms
        else {"valid": None, "why": "no-plant control: nothing to learn, no controls to pass"},
        "sizes": {"train": len(inputs(splits, "train", cfg.n_train)), "test": len(inputs(splits, "test", cfg.n_eval))},
        "seeds": per_seed,
    }
    return write_run_result("planted", task, cfg.seeds, body)


def main(argv: list[str]) -> None:
    if argv == ["--tune"]:
        tune(load_params())
    elif len(argv) == 1:
        run(load_params(), argv[0])
    else:
        sys.exit("usage: harness planted <task> | harness planted --tune")
