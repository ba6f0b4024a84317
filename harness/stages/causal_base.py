"""Stage ``causal_base``: the causal base model in ``models/causal/base`` (DVC cache) with its tokenizer.

``causal.model: standin`` builds GPT-2's architecture from ``causal.standin``, trains its BPE tokenizer
on the built-in corpus and pretrains it there (see harness/causal/standin.py for why); any other name is
loaded from the hub or a local directory and saved, so every later stage reads one local directory.
``results/causal/base.json`` records what was built and what pretraining cost.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
from pathlib import Path
from typing import Any

from harness.causal.data import collator, tokenize_pairs
from harness.causal.settings import CausalConfig, causal_section
from harness.causal.standin import build_model, builtin_corpus, train_tokenizer
from harness.core.config import LoopConfig, Params, load_params
from harness.core.errors import HarnessError, first_line
from harness.core.io import atomic_dir, write_json
from harness.core.paths import CAUSAL_BASE, CAUSAL_BASE_SUMMARY
from harness.core.provenance import record
from harness.core.registry import METHODS
from harness.core.seeding import seed_everything
from harness.engine.models import DTYPES
from harness.engine.resources import pick_device
from harness.engine.trainer import train, train_loader
from harness.methods.base import total_parameters
from harness.stages.common import set_threads

log = logging.getLogger("harness.causal_base")


def build_standin(causal: CausalConfig, loop: LoopConfig, out: Path) -> dict[str, Any]:
    cfg = causal.standin
    corpus = builtin_corpus(cfg.corpus_size, cfg.seed)
    tokenizer = train_tokenizer(corpus, cfg.vocab_size)
    seed_everything(cfg.seed)
    model = build_model(cfg, tokenizer)
    figures: dict[str, Any] = {"corpus_sha256": hashlib.sha256("\n".join(corpus).encode()).hexdigest(), "vocab_size": len(tokenizer)}
    if cfg.pretrain_steps:
        device = pick_device(loop.device)
        pretrain_loop = LoopConfig(
            max_steps=cfg.pretrain_steps, batch_size=cfg.pretrain_batch_size, lr=cfg.pretrain_lr,
            group_by_length=True, threads=loop.threads, device=loop.device,
        )
        full = METHODS.get("full")()
        model = full.prepare(model, full.Config(method="full"), total_steps=cfg.pretrain_steps)
        data = tokenize_pairs([("", doc) for doc in corpus], tokenizer, min(causal.max_length, cfg.n_positions))
        loader = train_loader(data, tokenizer, cfg.pretrain_batch_size, cfg.seed, True, collate_fn=collator(tokenizer))
        stats = train(model, full, full.Config(method="full"), loader, pretrain_loop, cfg.pretrain_steps, device, label="causal_base pretraining")
        figures["pretrain"] = {
            "steps": stats.steps, "seconds": stats.train_seconds, "tokens_per_s": stats.tokens_per_s,
            "first_loss": stats.loss_curve[0][1], "final_loss": stats.final_loss, "loss_curve": stats.loss_curve,
        }
        log.info("stand-in pretrained: %d steps, loss %.3f -> %.3f, %.0f s", stats.steps, stats.loss_curve[0][1], stats.final_loss, stats.train_seconds)
    model.to(DTYPES[causal.dtype]).save_pretrained(out)
    tokenizer.model_max_length = cfg.n_positions
    tokenizer.save_pretrained(out)
    figures["total_params"] = total_parameters(model)
    return figures


def fetch(causal: CausalConfig, out: Path) -> dict[str, Any]:
    from transformers import AutoModelForCausalLM, AutoTokenizer

    try:
        model = AutoModelForCausalLM.from_pretrained(causal.model, dtype=DTYPES[causal.dtype])
        tokenizer = AutoTokenizer.from_pretrained(causal.model)
    except (OSError, ValueError) as err:
        raise HarnessError(f"params.yaml: causal.model: cannot load {causal.model!r} (a hub id needs network): {first_line(err)}") from None
    if tokenizer.pad_token is None:  # GPT-2 has none; batches pad with end-of-text (masked out of the loss)
        tokenizer.pad_token = tokenizer.eos_token
    model.save_pretrained(out)
    tokenizer.save_pretrained(out)
    return {"total_params": total_parameters(model)}


def run(params: Params) -> dict[str, Any]:
    causal = causal_section(params)
    set_threads(causal.loop)
    with atomic_dir(CAUSAL_BASE) as out:
        figures = build_standin(causal, causal.loop, out) if causal.model == "standin" else fetch(causal, out)
    summary = {
        "model": causal.model,
        "standin": dataclasses.asdict(causal.standin) if causal.model == "standin" else None,
        **figures,
        "provenance": record(seeds=[causal.standin.seed]),
    }
    write_json(CAUSAL_BASE_SUMMARY, summary)
    return summary


def main(argv: list[str]) -> None:
    run(load_params())
