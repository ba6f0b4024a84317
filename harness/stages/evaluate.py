"""Stage ``evaluate@<run>``: score every seed's saved model on the test split (the reported one), offline.

Reloads each adapter from disk onto a fresh base model (what a user of the checkpoint would do), so
the score also checks that the saved artifact is complete. Writes ``results/eval/<run>.json``
(a DVC metrics file): per seed every configured metric, adapter size on disk, eval throughput and
forward latency. Seeds are scored side by side (harness/core/workers.py); latency is then measured for one seed
at a time on every core, so no other seed's process shares the machine with a timed forward pass (the
model is reloaded for it: ~1 s a seed, the price of a clean timing).
"""

from __future__ import annotations

import copy
import logging
import sys

import torch
from transformers import DataCollatorWithPadding

from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.paths import seed_model_dir
from harness.core.seeding import seed_everything
from harness.core.workers import run_seeds
from harness.engine.inference import predict, score
from harness.engine.models import load_classifier
from harness.engine.resources import latency_ms, pick_device
from harness.stages.common import load_prepared, run_method, size_on_disk, write_run_result

log = logging.getLogger("harness.evaluate")


def latency(params: Params, method, model, base, dataset, tokenizer, device) -> dict:
    """Per-batch forward latency of the trained model next to the plain base model, and for methods
    that merge (LoRA family, IA3) of the merged model: LoRA's "no added inference latency" claim."""
    batch = DataCollatorWithPadding(tokenizer)([dataset[i] for i in range(min(params.loop.latency_batch, len(dataset)))])
    batch = {k: v.to(device) for k, v in batch.items() if k != "labels"}
    models = {"base": base.to(device), "model": model.to(device)}
    if method.mergeable:
        models["merged"] = copy.deepcopy(model).merge_and_unload()
    ms = latency_ms(models, batch, params.loop.latency_repeats)
    out = {"batch": len(batch["input_ids"]), "repeats": params.loop.latency_repeats, **{f"{k}_ms": v for k, v in ms.items()}}
    out["model_over_base"] = ms["model"] / ms["base"]
    if "merged" in ms:
        out["merged_over_base"] = ms["merged"] / ms["base"]
        with torch.no_grad():  # merging must not change what the model predicts (a class, or a regression score)
            merged, unmerged = (models[k](**batch).logits for k in ("merged", "model"))
            same = torch.isclose(merged, unmerged, rtol=1e-3, atol=1e-4)[:, 0] if merged.shape[-1] == 1 else merged.argmax(-1) == unmerged.argmax(-1)
        out["merged_same_predictions"] = float(same.float().mean())
    return out


def run(params: Params, run: str) -> dict:
    method, cfg = run_method(params, run)
    device = pick_device(params.loop.device)
    splits, tokenizer = load_prepared()
    seeds = seeds_of(params, params.train[run])
    for seed in seeds:
        if not seed_model_dir(run, seed).is_dir():
            raise HarnessError(f"{seed_model_dir(run, seed)}: no trained model for seed {seed}; run the train stage (dvc repro train@{run})")

    def reload(seed: int):
        seed_everything(seed)  # the throwaway head the adapter's saved head replaces is drawn from the RNG
        return method.load(method.base_model(params.model, params.data.num_labels, cfg), seed_model_dir(run, seed), cfg)

    def scores(seed: int) -> dict:
        preds, labels, speed = predict(reload(seed), splits["test"], tokenizer, params.loop.eval_batch_size, device)
        figures = {
            "metrics": score(preds, labels, params.data.metrics),
            "artifact_bytes": size_on_disk(seed_model_dir(run, seed)),
            **speed,
            "threads": torch.get_num_threads(),
        }
        log.info("evaluate@%s seed %d: %s", run, seed, figures["metrics"])
        return figures

    def timing(seed: int) -> dict:
        base = load_classifier(params.model.name, params.data.num_labels, params.model.dtype)
        return latency(params, method, reload(seed), base, splits["test"], tokenizer, device)

    done = run_seeds(scores, seeds, threads=params.loop.threads, device=device, log=log, label=f"evaluate@{run}")
    # latency: each seed alone on every core (threads 0), never beside another seed's process
    timed = run_seeds(timing, seeds, threads=0, device=device, log=log, label=f"evaluate@{run} latency")
    per_seed = {str(seed): {**figures, "latency": timed[seed]} for seed, figures in done.items()}
    body = {"method": method.name, "primary_metric": params.data.metrics[0], "n_eval": len(splits["test"]), "seeds": per_seed}
    return write_run_result("eval", run, seeds, body)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness evaluate <run>")
    run(load_params(), argv[0])
