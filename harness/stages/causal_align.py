"""Stage ``causal_align@<run>``: SFT then DPO through trl, for every seed -> ``models/causal_align/<run>``
(DVC cache: ``seed_<s>/sft`` and ``seed_<s>/dpo``) and ``results/causal/align/<run>.json`` (git).

Per seed: SFT on the task's training pairs as causal run ``sft_run`` is set up (harness/causal/alignment.py
says why through trl), then DPO from that model on preference pairs built from the training MRs. Both
models are scored on pairs and greedy outputs built from the *test* MRs, which neither phase trained on.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.causal.alignment import assess, dpo, sft, trainer_settings
from harness.causal.data import read_rows
from harness.causal.preference import hub_pairs, preference_pairs
from harness.causal.settings import AlignConfig, PreferenceSource, causal_run, causal_section
from harness.causal.tasks.e2e import SEPARATOR
from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.io import atomic_dir
from harness.core.paths import CAUSAL_BASE, causal_align_dir, seed_subdir
from harness.core.registry import CAUSAL_TASKS
from harness.core.seeding import seed_everything
from harness.core.workers import run_seeds
from harness.engine.models import DTYPES
from harness.engine.resources import pick_device
from harness.engine.trainer import total_steps
from harness.methods.base import Method, trainable_parameters
from harness.stages.common import causal_data_hashes, config_dict, size_on_disk, write_run_result

log = logging.getLogger("harness.causal_align")


def align_section(params: Params) -> AlignConfig:
    causal = causal_section(params)
    if causal.align is None:
        raise HarnessError("params.yaml: causal.align: section missing (the SFT-then-DPO runs)")
    return causal.align


def pairs(align: AlignConfig, train_rows: list[dict[str, Any]], test_rows: list[dict[str, Any]], tokenizer) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """DPO's training and held-out pairs: generated from the task's training and test MRs (different seeds), or
    the two splits of a hub preference set."""
    source: PreferenceSource = align.preference
    if source.source == "hub":
        return (hub_pairs(source.name, source.train_split, source.limit, tokenizer),
                hub_pairs(source.name, source.test_split, source.limit, tokenizer))
    return (preference_pairs(list(dict.fromkeys(r["mr"] for r in train_rows)), align.pairs_seed, align.pairs_per_mr),
            preference_pairs([r["mr"] for r in test_rows], align.pairs_seed + 1, align.pairs_per_mr))


def run(params: Params, name: str) -> dict[str, Any]:
    align = align_section(params)
    if name not in align.runs:
        raise HarnessError(f"params.yaml: causal.align.runs.{name}: no such run; runs: {', '.join(align.runs)}")
    spec = align.runs[name]
    causal, method, cfg = causal_run(params, spec.sft_run)
    if type(method).before_zero_grad is not Method.before_zero_grad:  # AdaLoRA's schedule spans one training run
        raise HarnessError(f"params.yaml: causal.align.runs.{name}.sft_run: method {method.name!r} steps a schedule between optimizer steps, which SFT then DPO would run twice; use a LoRA or full run")
    if not (CAUSAL_BASE / "config.json").is_file():
        raise HarnessError(f"{CAUSAL_BASE}: causal base model not found; run the causal_base stage first")
    task = CAUSAL_TASKS.get(causal.task)()
    train_rows, test_rows = read_rows("train"), read_rows("test")
    sft_pairs = [task.training_pair(r) for r in train_rows]
    tokenizer = AutoTokenizer.from_pretrained(CAUSAL_BASE)
    train_prefs, test_prefs = pairs(align, train_rows, test_rows, tokenizer)
    device = pick_device(causal.loop.device)
    seeds = seeds_of(params, spec)
    sft_steps = total_steps(causal.loop, len(sft_pairs))  # as causal_train@<sft_run> trains (max_steps or epochs)

    def quality(model) -> dict[str, Any]:
        return assess(model, tokenizer, test_prefs, test_rows, SEPARATOR, align.max_new_tokens, causal.eval_batch_size, causal.max_length, device)

    with atomic_dir(causal_align_dir(name)) as out:
        def one_seed(seed: int) -> dict[str, Any]:
            seed_everything(seed)  # before the adapter is initialised
            model = AutoModelForCausalLM.from_pretrained(CAUSAL_BASE, dtype=DTYPES[causal.dtype])
            model = method.prepare(model, cfg, total_steps=sft_steps)
            trainable = trainable_parameters(model)
            common = {"seed": seed, "max_length": causal.max_length, "device": device}
            model, sft_figures = sft(model, method, cfg, tokenizer, sft_pairs, trainer_settings(
                causal.loop, steps=sft_steps, batch_size=causal.loop.batch_size, lr=cfg.lr or causal.loop.lr, **common), device)
            method.save(model, out / seed_subdir(seed) / "sft")
            sft_figures["eval"] = quality(model)
            model, dpo_figures, trl_eval = dpo(model, tokenizer, train_prefs, test_prefs, trainer_settings(
                causal.loop, steps=align.dpo_steps, batch_size=align.dpo_batch_size, lr=spec.dpo_lr, **common), align.beta, device)
            method.save(model, out / seed_subdir(seed) / "dpo")
            dpo_figures["eval"] = {**quality(model), **trl_eval}
            both = (sft_figures, dpo_figures)
            before, after = sft_figures["eval"], dpo_figures["eval"]
            log.info("causal_align@%s seed %d: preference accuracy %.1f -> %.1f, coverage %.1f -> %.1f", name, seed,
                     before["preference_accuracy"], after["preference_accuracy"], before["coverage"], after["coverage"])
            return {
                "trainable_params": trainable,
                "sft": sft_figures,
                "dpo": dpo_figures,
                # the whole recipe, as the atlas row compares it: time adds up, memory is the larger phase's
                "train_seconds": sum(f["train_seconds"] for f in both),
                "memory": {"training_mb": max(f["memory"]["training_mb"] for f in both)},
                "artifact_bytes": size_on_disk(out / seed_subdir(seed) / "dpo"),
            }

        done = run_seeds(one_seed, seeds, threads=causal.loop.threads, device=device, log=log,
                         label=f"causal_align@{name} ({sft_steps} SFT + {align.dpo_steps} DPO steps)")
    body = {
        "method": f"sft+dpo ({method.name})",
        "task": causal.task,
        "sft_run": spec.sft_run,
        "config": {"sft": config_dict(cfg), "dpo_lr": spec.dpo_lr, "beta": align.beta, "dpo_steps": align.dpo_steps,
                   "dpo_batch_size": align.dpo_batch_size, "pairs_per_mr": align.pairs_per_mr, "pairs_seed": align.pairs_seed,
                   **({"preference": dataclasses.asdict(align.preference)} if align.preference.source == "hub" else {})},
        "pairs": {"train": len(train_prefs), "test": len(test_prefs)},
        "seeds": {str(seed): figures for seed, figures in done.items()},
    }
    return write_run_result("causal_align", name, seeds, body, causal_data_hashes())


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness causal-align <run>")
    run(load_params(), argv[0])
