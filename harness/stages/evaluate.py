"""Stage ``evaluate@<run>``: score every seed's saved model on the eval split, offline.

Reloads each adapter from disk onto a fresh base model (what a user of the checkpoint would do), so
the score also checks that the saved artifact is complete. Writes ``results/eval/<run>.json``
(a DVC metrics file): per seed every configured metric, adapter size on disk, eval throughput.
"""

from __future__ import annotations

import logging
import sys
import time
from pathlib import Path

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from harness.config import Params, load_params
from harness.errors import HarnessError
from harness.io import read_json, write_json
from harness.measure import pick_device
from harness.metrics import METRICS
from harness.models import load_classifier
from harness.provenance import record
from harness.stages.common import (
    RESULTS,
    load_prepared,
    run_method,
    seed_dir,
    set_threads,
)
from harness.stages.prepare import PREPARED
from harness.training import seed_everything

log = logging.getLogger("harness.evaluate")


@torch.no_grad()
def predict(model, dataset, tokenizer, batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray, dict]:
    """Argmax predictions and gold labels in dataset order, plus eval throughput (non-pad tokens/s).

    Batches are formed from length-sorted examples (less padding, same predictions: each example is
    scored on its own row) and the predictions are put back in dataset order.
    """
    model.to(device).eval()
    order = np.argsort([len(ids) for ids in dataset["input_ids"]], kind="stable")
    loader = DataLoader(dataset.select(order), batch_size=batch_size, collate_fn=DataCollatorWithPadding(tokenizer))
    preds, labels, tokens = [], [], 0
    start = time.perf_counter()
    for batch in loader:
        batch = {k: v.to(device) for k, v in batch.items()}
        gold = batch.pop("labels")
        preds.append(model(**batch).logits.argmax(-1).cpu())
        labels.append(gold.cpu())
        tokens += int(batch["attention_mask"].sum())
    seconds = time.perf_counter() - start
    unsort = np.empty_like(order)
    unsort[order] = np.arange(len(order))
    return (
        torch.cat(preds).numpy()[unsort],
        torch.cat(labels).numpy()[unsort],
        {"eval_seconds": seconds, "eval_tokens_per_s": tokens / seconds},
    )


def score(preds: np.ndarray, labels: np.ndarray, metrics: list[str]) -> dict[str, float]:
    return {name: METRICS.get(name)(preds, labels) for name in metrics}


def write_run_result(kind: str, run: str, params: Params, body: dict) -> dict:
    """``results/<kind>/<run>.json``: the stage's figures plus the provenance every result carries."""
    result = {
        "run": run,
        **body,
        "provenance": record(seeds=params.seeds, data_hashes=read_json(PREPARED / "meta.json")["content_sha256"]),
    }
    write_json(RESULTS / kind / f"{run}.json", result)
    return result


def size_on_disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def run(params: Params, run: str) -> dict:
    method, _ = run_method(params, run)
    set_threads(params.loop)
    device = pick_device(params.loop.device)
    splits, tokenizer = load_prepared()
    per_seed = {}
    for seed in params.seeds:
        path = seed_dir(run, seed)
        if not path.is_dir():
            raise HarnessError(f"{path}: no trained model for seed {seed}; run the train stage (dvc repro train@{run})")
        seed_everything(seed)  # the throwaway head the adapter's saved head replaces is drawn from the RNG
        base = load_classifier(params.model.name, len(params.data.labels), params.model.dtype)
        model = method.load(base, path)
        preds, labels, speed = predict(model, splits["eval"], tokenizer, params.loop.eval_batch_size, device)
        per_seed[str(seed)] = {"metrics": score(preds, labels, params.data.metrics), "artifact_bytes": size_on_disk(path), **speed}
        log.info("evaluate %s seed %d: %s", run, seed, per_seed[str(seed)]["metrics"])
    body = {"method": method.name, "primary_metric": params.data.metrics[0], "n_eval": len(splits["eval"]), "seeds": per_seed}
    return write_run_result("eval", run, params, body)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness evaluate <run>")
    run(load_params(), argv[0])
