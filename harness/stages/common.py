"""What the train and evaluate stages both need: the prepared data, the method of a run, run paths."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import torch
from datasets import load_from_disk
from transformers import AutoTokenizer

from harness.config import LoopConfig, Params
from harness.errors import HarnessError
from harness.methods import METHODS
from harness.stages.prepare import PREPARED

MODELS = Path("models")
RESULTS = Path("results")


def load_prepared():
    if not (PREPARED / "splits").is_dir():
        raise HarnessError(f"{PREPARED}: prepared data not found; run the prepare stage first (dvc repro prepare)")
    return load_from_disk(str(PREPARED / "splits")), AutoTokenizer.from_pretrained(PREPARED / "tokenizer")


def run_method(params: Params, run: str):
    if run not in params.train:
        raise HarnessError(f"params.yaml: train.{run}: no such run; runs: {', '.join(params.train)}")
    cfg = params.train[run]
    return METHODS.get(cfg.method)(), cfg


def set_threads(loop: LoopConfig) -> None:
    if loop.threads:
        torch.set_num_threads(loop.threads)


def seed_dir(run: str, seed: int) -> Path:
    return MODELS / run / f"seed_{seed}"


def config_dict(cfg) -> dict:
    return dataclasses.asdict(cfg)
