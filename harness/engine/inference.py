"""Batched prediction and scoring, shared by evaluation, truncation curves and the validation curve of training."""

from __future__ import annotations

import time

import numpy as np
import torch
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding

from harness.core.registry import METRICS


@torch.no_grad()
def predict(model, dataset, tokenizer, batch_size: int, device: torch.device) -> tuple[np.ndarray, np.ndarray, dict]:
    """Predictions (the argmax class, or the score of a one-output regression head) and gold labels in dataset
    order, plus eval throughput (non-pad tokens/s).

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
        logits = model(**batch).logits
        preds.append(logits.squeeze(-1).float().cpu() if logits.shape[-1] == 1 else logits.argmax(-1).cpu())
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
