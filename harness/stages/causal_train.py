"""Stage ``causal_train@<run>``: fine-tune the causal base model with one run's method for every seed.

Outputs ``models/causal/<run>/seed_<s>`` (DVC cache: a peft adapter, or the whole model for full
fine-tuning; lm-eval loads either) and ``results/causal/train/<run>.json`` (git: the same per-seed
record as the classification track's train stage, plus provenance). Like the train stage it resumes from
checkpoints (``causal.loop.checkpoint_every``), logs to ``causal.loop.report_to`` and runs under
``accelerate launch`` (rank 0 writes): the GPT-2 M/L profiles are what need them.
"""

from __future__ import annotations

import dataclasses
import logging
import sys

from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.causal.data import collator, read_rows, tokenize_pairs
from harness.causal.settings import causal_run
from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.io import output_dir
from harness.core.paths import CAUSAL_BASE, causal_model_dir, seed_subdir
from harness.core.ranks import is_main_process
from harness.core.registry import CAUSAL_TASKS
from harness.core.seeding import seed_everything
from harness.core.workers import run_seeds
from harness.engine.models import DTYPES
from harness.engine.resources import pick_device
from harness.engine.trainer import keyed_checkpoint_dir, total_steps, train, train_loader
from harness.stages.common import causal_data_hashes, config_dict, train_figures, write_run_result

log = logging.getLogger("harness.causal_train")


def run(params: Params, run: str) -> dict:
    causal, method, cfg = causal_run(params, run)
    if not (CAUSAL_BASE / "config.json").is_file():
        raise HarnessError(f"{CAUSAL_BASE}: causal base model not found; run the causal_base stage first")
    tokenizer = AutoTokenizer.from_pretrained(CAUSAL_BASE)
    task = CAUSAL_TASKS.get(causal.task)()
    data = tokenize_pairs([task.training_pair(r) for r in read_rows("train")], tokenizer, causal.max_length)
    steps = total_steps(causal.loop, len(data))
    device = pick_device(causal.loop.device)
    with output_dir(causal_model_dir(run)) as out:
        def one_seed(seed: int) -> dict:
            seed_everything(seed)  # before the adapter is initialised
            model = AutoModelForCausalLM.from_pretrained(CAUSAL_BASE, dtype=DTYPES[causal.dtype])
            model = method.prepare(model, cfg, total_steps=steps)
            loader = train_loader(data, tokenizer, causal.loop.batch_size, seed, causal.loop.group_by_length, collate_fn=collator(tokenizer))
            key = {"cfg": dataclasses.asdict(cfg), "loop": dataclasses.asdict(causal.loop), "model": causal.model, "standin": dataclasses.asdict(causal.standin),
                   "dtype": causal.dtype, "max_length": causal.max_length, "task": causal.task, "seed": seed, "train": data._fingerprint}
            checkpoints = keyed_checkpoint_dir(f"causal/{run}/seed_{seed}", key) if causal.loop.checkpoint_every else None
            stats = train(model, method, cfg, loader, causal.loop, steps, device, label=f"causal_train@{run} seed {seed}", checkpoint_dir=checkpoints,
                          log_name=f"causal_train/{run}/{seed_subdir(seed)}")
            method.save(model, out / seed_subdir(seed))
            log.info("causal_train@%s seed %d: loss %.4f, %.1f s, %.0f tokens/s", run, seed, stats.final_loss, stats.train_seconds, stats.tokens_per_s)
            return train_figures(model, method, cfg, stats, device)

        done = run_seeds(one_seed, seeds_of(params, cfg), threads=causal.loop.threads, device=device, log=log, label=f"causal_train@{run} ({steps} steps)")
    per_seed = {str(seed): figures for seed, figures in done.items()}
    if not is_main_process():  # a data-parallel launch: rank 0 writes
        return {}
    body = {"method": method.name, "task": causal.task, "config": config_dict(cfg), "seeds": per_seed}
    return write_run_result("causal_train", run, seeds_of(params, cfg), body, causal_data_hashes())


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness causal-train <run>")
    run(load_params(), argv[0])
