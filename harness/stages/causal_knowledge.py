"""Stage ``causal_knowledge@<arm>``: one arm of the knowledge-update task for every seed ->
``results/causal/knowledge/<arm>.json`` (git). Nothing is saved but the figures: the models exist to be asked.

Per seed, in a fresh process (so each arm's memory is measured from the same start): the arm's model (causal run
``run`` fine-tuned on the store as it was, or the untrained base model), the updated store's BM25 index when the
arm retrieves, and a greedy description of every venue read against the current facts
(harness/causal/knowledge.py says what is counted). Memory and time cover everything the arm does to answer:
training, the index, retrieval and generation.
"""

from __future__ import annotations

import hashlib
import logging
import random
import sys
import time
from typing import Any

from transformers import AutoModelForCausalLM, AutoTokenizer

from harness.causal.alignment import greedy
from harness.causal.data import collator, tokenize_pairs
from harness.causal.knowledge import (
    Retriever,
    contexts,
    descriptions,
    documents,
    first_line,
    fit,
    prompt,
    query,
    recall,
    score,
    update_facts,
    venue_facts,
)
from harness.causal.settings import KnowledgeArm, KnowledgeConfig, causal_run, causal_section
from harness.causal.tasks.e2e import NAMES
from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.paths import CAUSAL_BASE
from harness.core.seeding import seed_everything
from harness.core.workers import run_seeds
from harness.engine.models import DTYPES
from harness.engine.resources import PeakMemory, pick_device, tensor_bytes
from harness.engine.trainer import total_steps, train, train_loader
from harness.stages.common import config_dict, train_figures, write_run_result

log = logging.getLogger("harness.causal_knowledge")
WHERE = "params.yaml: causal.knowledge"


def knowledge_arm(params: Params, name: str) -> tuple[KnowledgeConfig, KnowledgeArm]:
    causal = causal_section(params)
    if causal.knowledge is None:
        raise HarnessError(f"{WHERE}: section missing (the knowledge-update task's arms)")
    knowledge = causal.knowledge
    if name not in knowledge.arms:
        raise HarnessError(f"{WHERE}.arms.{name}: no such arm; arms: {', '.join(knowledge.arms)}")
    if knowledge.changed > len(NAMES):
        raise HarnessError(f"{WHERE}.changed: {knowledge.changed}; the store has {len(NAMES)} venues, allowed: 1 to {len(NAMES)}")
    return knowledge, knowledge.arms[name]


def run(params: Params, name: str) -> dict[str, Any]:
    knowledge, arm = knowledge_arm(params, name)
    causal = causal_section(params)
    method = cfg = None
    if arm.run is not None:
        _, method, cfg = causal_run(params, arm.run)
    if not (CAUSAL_BASE / "config.json").is_file():
        raise HarnessError(f"{CAUSAL_BASE}: causal base model not found; run the causal_base stage first")
    tokenizer = AutoTokenizer.from_pretrained(CAUSAL_BASE)
    old = venue_facts(knowledge.seed)
    new, changes = update_facts(old, knowledge.changed, knowledge.seed)
    old_docs, new_docs = documents(old, knowledge.seed), documents(new, knowledge.seed)
    targets = descriptions(old, knowledge.references, knowledge.seed)
    names = sorted(new)
    device = pick_device(causal.loop.device)

    def length(text: str) -> int:
        return len(tokenizer(text, add_special_tokens=False)["input_ids"])

    seeds = seeds_of(params, arm)

    def one_seed(seed: int) -> dict[str, Any]:
        seed_everything(seed)  # before an adapter is initialised
        rng = random.Random(seed)  # the random arm's draws
        model = AutoModelForCausalLM.from_pretrained(CAUSAL_BASE, dtype=DTYPES[causal.dtype])
        figures: dict[str, Any] = {"trainable_params": 0, "train_seconds": 0.0}
        with PeakMemory(device) as mem:
            if method is not None:
                train_context = arm.train_context or arm.context
                index = Retriever(old_docs) if train_context == "retrieved" else None
                context = contexts(train_context, [n for n, _ in targets], old_docs, knowledge.k, rng, index)
                context = [fit(c, n, length, causal.max_length - length(t) - 1) for (n, t), c in zip(targets, context)]
                data = tokenize_pairs([(prompt(c, n), t) for (n, t), c in zip(targets, context)], tokenizer, causal.max_length)
                steps = total_steps(causal.loop, len(data))
                model = method.prepare(model, cfg, total_steps=steps)
                loader = train_loader(data, tokenizer, causal.loop.batch_size, seed, causal.loop.group_by_length, collate_fn=collator(tokenizer))
                stats = train(model, method, cfg, loader, causal.loop, steps, device, label=f"causal_knowledge@{name} seed {seed}")
                figures.update(train_figures(model, method, cfg, stats, device))
            start = time.perf_counter()
            index = Retriever(new_docs) if arm.context == "retrieved" else None
            index_seconds = index.build_seconds if index else 0.0
            context = contexts(arm.context, names, new_docs, knowledge.k, rng, index)
            context = [fit(c, n, length, causal.max_length - knowledge.max_new_tokens) for c, n in zip(context, names)]
            retrieval_seconds = time.perf_counter() - start - index_seconds
            start = time.perf_counter()
            outputs = greedy(model, tokenizer, [prompt(c, n) for c, n in zip(context, names)], knowledge.max_new_tokens,
                             causal.eval_batch_size, causal.max_length, device)
            answer_seconds = time.perf_counter() - start
        answers = {n: first_line(o) for n, o in zip(names, outputs)}
        weights_mb = tensor_bytes(model) / 2**20
        figures.update({
            **score(answers, new, changes),
            # what the arm needs before it can answer: training and the index (the atlas's speed)
            "setup_seconds": figures["train_seconds"] + index_seconds,
            "index_seconds": index_seconds,
            "retrieval_ms": 1000.0 * retrieval_seconds / len(names),
            "answer_ms": 1000.0 * answer_seconds / len(names),
            "prompt_tokens": sum(length(prompt(c, n)) for c, n in zip(context, names)) / len(names),
            "documents": sum(map(len, context)) / len(names),  # per prompt: k, less where the window is too short
            # everything the arm did, from the loaded base model on: training (if any), index, retrieval, answers
            "memory": {**figures.get("memory", {}), "arm_mb": weights_mb + mem.as_dict()["peak_rss_delta_mb"], "arm_peak_rss_mb": mem.as_dict()["peak_rss_mb"]},
            "retrieval": recall(index.top([query(n) for n in names], knowledge.k), list(range(len(names)))) if index else None,
            "examples": [{"venue": c.name, "changed": f"{c.key}: {c.old} -> {c.new}", "answer": answers[c.name]} for c in changes[:3]],
        })
        log.info("causal_knowledge@%s seed %d: changed facts %.0f%% right, %.0f%% stale; all facts %.0f%%", name, seed,
                 figures["changed_accuracy"], figures["stale_rate"], figures["fact_accuracy"])
        return figures

    done = run_seeds(one_seed, seeds, threads=causal.loop.threads, device=device, log=log, label=f"causal_knowledge@{name}")
    store = "\n".join([*old_docs, *new_docs, *(n + t for n, t in targets)])
    body = {
        "arm": name,
        "trained_run": arm.run,
        "method": method.name if method else "base model",
        "context": arm.context,
        "train_context": (arm.train_context or arm.context) if arm.run else None,
        "config": config_dict(cfg) if cfg else None,
        "k": knowledge.k,
        "changes": [{"venue": c.name, "key": c.key, "old": c.old, "new": c.new} for c in changes],
        "seeds": {str(seed): figures for seed, figures in done.items()},
    }
    return write_run_result("causal_knowledge", name, seeds, body, {"store": hashlib.sha256(store.encode()).hexdigest()})


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness causal-knowledge <arm>")
    run(load_params(), argv[0])
