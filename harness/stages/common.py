"""What the stages of both tracks share: the prepared data, the method of a run, the per-seed training record,
writing a run's result with its provenance."""

from __future__ import annotations

import dataclasses
from pathlib import Path
from typing import Any

import torch
from datasets import DatasetDict, load_from_disk
from transformers import AutoTokenizer

from harness.core.config import LoopConfig, Params
from harness.core.errors import HarnessError
from harness.core.io import read_json, write_json
from harness.core.paths import CAUSAL_DATA_SUMMARY, META_FILE, PREPARED, SPLITS_DIR, TOKENIZER_DIR, result_file
from harness.core.provenance import record
from harness.core.registry import METHODS
from harness.data.base import SPLITS
from harness.engine.resources import tensor_bytes
from harness.methods.base import total_parameters, trainable_parameters


def load_prepared(splits: tuple[str, ...] = SPLITS):
    """The prepared ``splits`` (only those: the tune stage never opens the test split) and the tokenizer."""
    if not (PREPARED / SPLITS_DIR).is_dir():
        raise HarnessError(f"{PREPARED}: prepared data not found; run the prepare stage first (dvc repro prepare)")
    missing = [s for s in splits if not (PREPARED / SPLITS_DIR / s).is_dir()]
    if missing:
        raise HarnessError(f"{PREPARED / SPLITS_DIR}: no {missing[0]} split (prepared by an older version?); rerun dvc repro prepare")
    loaded = DatasetDict({s: load_from_disk(str(PREPARED / SPLITS_DIR / s)) for s in splits})
    return loaded, AutoTokenizer.from_pretrained(PREPARED / TOKENIZER_DIR)


def run_method(params: Params, run: str):
    if run not in params.train:
        raise HarnessError(f"params.yaml: train.{run}: no such run; runs: {', '.join(params.train)}")
    cfg = params.train[run]
    return METHODS.get(cfg.method)(), cfg


def set_threads(loop: LoopConfig) -> None:
    if loop.threads:
        torch.set_num_threads(loop.threads)


def data_hashes(splits: tuple[str, ...] | None = None) -> dict[str, str]:
    """The prepared splits' content hashes (all, or ``splits``: a stage records only what it read)."""
    hashes = read_json(PREPARED / META_FILE)["content_sha256"]
    return hashes if splits is None else {s: hashes[s] for s in splits}


def causal_data_hashes() -> dict[str, str]:
    """The causal track's data content hashes (``results/causal/data.json``, written by the causal_data stage)."""
    return read_json(CAUSAL_DATA_SUMMARY)["content_sha256"]


def write_run_result(kind: str, run: str, seeds: list[int], body: dict, hashes: dict[str, str] | None = None) -> dict:
    """``results/<kind>/<run>.json``: the stage's figures plus the provenance every result carries, with the
    content hashes of the data it read (``hashes``; by default every prepared classification split)."""
    result = {
        "run": run,
        **body,
        "provenance": record(seeds=seeds, data_hashes=data_hashes() if hashes is None else hashes),
    }
    write_json(result_file(kind, run), result)
    return result


def size_on_disk(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def config_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)


def train_figures(model, method, cfg, stats, device) -> dict[str, Any]:
    """One seed's training record (both tracks): sizes, cost, curves and the method's own report."""
    weights_mb = tensor_bytes(model) / 2**20
    return {
        "trainable_params": trainable_parameters(model),
        "effective_params": method.effective_params(model),
        "total_params": total_parameters(model),
        "steps": stats.steps,
        "effective_batch": stats.effective_batch,
        "precision": stats.precision,
        "train_seconds": stats.train_seconds,
        "train_tokens": stats.tokens,
        "tokens_per_s": stats.tokens_per_s,
        "train_cpu_seconds": stats.cpu_seconds,
        "tokens_per_cpu_s": stats.tokens / stats.cpu_seconds,
        "final_loss": stats.final_loss,
        "loss_curve": stats.loss_curve,
        "val_curve": stats.val_curve,
        "steps_to_target": stats.steps_to_target,
        # training_mb: what the method itself needs (its weights + what training allocated on top),
        # without the ~0.6 GB of Python/torch runtime every process carries in its RSS
        "memory": {**stats.memory, "weights_mb": weights_mb, "training_mb": weights_mb + stats.memory["peak_rss_delta_mb"]},
        "device": str(device),
        "threads": torch.get_num_threads(),  # part of the result: it sets the floating-point summation order
        "method_report": method.report(model, cfg),
    }
