"""Stage ``truncate@<run>``: DyLoRA's question — how much quality does each rank of a trained adapter keep?

For every seed's adapter, each adapted module's update dW (peft's ``get_delta_weight``: B·A·scaling for
LoRA, B·diag(E)·A·scaling/r for AdaLoRA) is replaced by its best rank-k approximation (truncated SVD),
k = 1 .. the largest rank any module holds, and the test split is scored at every k. Writes
``results/truncate/<run>.json`` (metric per k per seed, and the share of the adapter's gain over the
majority baseline kept at each k).
"""

from __future__ import annotations

import logging
import sys
from typing import Any

import torch

from harness.core.config import Params, load_params, seeds_of
from harness.core.io import read_json
from harness.core.paths import PREPARE_SUMMARY, seed_model_dir
from harness.core.seeding import seed_everything
from harness.core.workers import run_seeds
from harness.engine.inference import predict, score
from harness.engine.lowrank import adapter_deltas, ranks_of, truncated
from harness.engine.resources import pick_device
from harness.stages.common import load_prepared, run_method, write_run_result

log = logging.getLogger("harness.truncate")


def truncation_curve(model, deltas, ks, evaluate) -> dict[int, dict[str, float]]:
    """Merge the adapter, then set each adapted weight to W0 + rank-k(dW) for every k and score."""
    merged = model.merge_and_unload()
    modules = dict(merged.named_modules())
    base = {name: modules[name].weight.detach() - d for name, d in deltas.items()}
    curve = {}
    with torch.no_grad():
        for k in ks:
            for name, d in deltas.items():
                modules[name].weight.copy_(base[name] + truncated(d, k))
            curve[k] = evaluate(merged)
    return curve


def run(params: Params, run: str) -> dict[str, Any]:
    method, cfg = run_method(params, run)
    device = pick_device(params.loop.device)
    splits, tokenizer = load_prepared()
    metric = params.data.metrics[0]
    # the score of a predictor that ignores its input: the majority class, or for regression 0 (no correlation)
    majority = read_json(PREPARE_SUMMARY)["majority_class_test_accuracy"] or 0.0

    def evaluate(model) -> dict[str, float]:
        preds, labels, _ = predict(model, splits["test"], tokenizer, params.loop.eval_batch_size, device)
        return score(preds, labels, [metric])

    def one_seed(seed: int) -> dict[str, Any]:
        seed_everything(seed)
        model = method.load(method.base_model(params.model, params.data.num_labels, cfg), seed_model_dir(run, seed), cfg)
        deltas = adapter_deltas(model)
        top = ranks_of(deltas)
        curve = truncation_curve(model, deltas, range(1, top + 1), evaluate)
        full = curve[top][metric]
        log.info("truncate@%s seed %d: %s", run, seed, {k: round(v[metric], 2) for k, v in curve.items()})
        return {
            "max_rank": top,
            "metric_at_k": {str(k): v[metric] for k, v in curve.items()},
            "gain_kept_at_k": {str(k): (v[metric] - majority) / (full - majority) if full != majority else None for k, v in curve.items()},
            "rank_half_retention": (curve[max(1, top // 2)][metric] - majority) / (full - majority) if full != majority else None,
        }

    seeds = seeds_of(params, params.train[run])
    done = run_seeds(one_seed, seeds, threads=params.loop.threads, device=device, log=log, label=f"truncate@{run}")
    per_seed = {str(seed): figures for seed, figures in done.items()}
    return write_run_result("truncate", run, seeds, {"metric": metric, "majority_baseline": majority, "seeds": per_seed})


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness truncate <run>")
    run(load_params(), argv[0])
