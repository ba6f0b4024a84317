"""Stage ``train@<run>``: train one configured run for every seed and save its adapters.

Outputs ``models/<run>/seed_<s>`` (DVC cache), ``results/train/<run>.json`` (git: cost figures, method
report such as AdaLoRA's rank pattern, provenance) and ``results/curves/<run>.csv`` (loss curves, a DVC plot).
"""

from __future__ import annotations

import logging
import sys

from harness.config import Params, load_params
from harness.inference import predict, score
from harness.io import atomic_dir, read_json, write_json, write_text
from harness.measure import pick_device
from harness.provenance import record
from harness.stages.common import (
    MODELS,
    RESULTS,
    config_dict,
    load_prepared,
    run_method,
    set_threads,
    train_figures,
)
from harness.stages.prepare import PREPARED
from harness.training import (
    fit_without_steps,
    seed_everything,
    total_steps,
    train,
    train_loader,
)

log = logging.getLogger("harness.train")


def validation_tracker(params: Params, splits, tokenizer, device):
    """The primary metric on the first ``loop.track_examples`` eval examples, or None when tracking is off."""
    if not params.loop.track_every:
        return None
    subset = splits["eval"].select(range(min(params.loop.track_examples, len(splits["eval"]))))
    metric = params.data.metrics[0]

    def track(model) -> float:
        preds, labels, _ = predict(model, subset, tokenizer, params.loop.eval_batch_size, device)
        return score(preds, labels, [metric])[metric]

    return track


def train_seed(params: Params, run: str, seed: int, splits, tokenizer, out_dir) -> tuple[dict, object]:
    """Train one seed, save its artifact to ``out_dir``; return the figures and the trained model."""
    method, cfg = run_method(params, run)
    device = pick_device(params.loop.device)
    steps = total_steps(params.loop, len(splits["train"]))
    seed_everything(seed)  # before the head and the adapter are initialised
    model = method.base_model(params.model, len(params.data.labels), cfg)
    model = method.prepare(model, cfg, total_steps=steps)
    if method.trains:
        loader = train_loader(splits["train"], tokenizer, params.loop.batch_size, seed, params.loop.group_by_length)
        stats = train(model, method, cfg, loader, params.loop, steps, device, tracker=validation_tracker(params, splits, tokenizer, device))
    else:
        model, stats = fit_without_steps(model, method, cfg, splits["train"], tokenizer, device)
    method.save(model, out_dir)
    figures = train_figures(model, method, cfg, stats, device)
    return figures, model


def run(params: Params, run: str) -> dict:
    method, cfg = run_method(params, run)
    set_threads(params.loop)
    splits, tokenizer = load_prepared()
    per_seed = {}
    with atomic_dir(MODELS / run) as out:
        for seed in params.seeds:
            log.info("train %s (%s) seed %d", run, method.name, seed)
            per_seed[str(seed)], _ = train_seed(params, run, seed, splits, tokenizer, out / f"seed_{seed}")
            s = per_seed[str(seed)]
            log.info("train %s seed %d: loss %s, %.1f s, %.0f tokens/s", run, seed, "n/a" if s["final_loss"] is None else f"{s['final_loss']:.4f}", s["train_seconds"], s["tokens_per_s"])
    result = {
        "run": run,
        "method": method.name,
        "config": config_dict(cfg),
        "seeds": per_seed,
        "provenance": record(seeds=params.seeds, data_hashes=read_json(PREPARED / "meta.json")["content_sha256"]),
    }
    write_json(RESULTS / "train" / f"{run}.json", result)
    rows = ["seed,step,loss"] + [f"{seed},{step},{loss:.6f}" for seed, s in per_seed.items() for step, loss in s["loss_curve"]]
    write_text(RESULTS / "curves" / f"{run}.csv", "\n".join(rows) + "\n")
    return result


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness train <run>")
    run(load_params(), argv[0])
