"""One seed fixes every RNG of a run: a module of its own, so a stage that only seeds (evaluate, truncate) does not
depend on the training loop."""

from __future__ import annotations

from transformers import set_seed as hf_set_seed


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA). Call before the head and the adapter are initialised."""
    hf_set_seed(seed)
