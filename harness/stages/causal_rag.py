"""Stage ``causal_rag@<model>``: data-to-text with retrieved demonstrations -> ``results/causal/eval/<name>.json``
(``base_rag`` for the untrained base model, ``<run>_rag`` for a causal run's trained models).

Each test MR's prompt holds its ``causal.icl_shots`` nearest training examples (BM25 over the training MRs,
harness/causal/retrieval.py) where the in-context row (stage causal_icl) holds as many drawn at random: the same
model, the same k and the same lm-eval task but for which examples fill the prompt (``RAG_TASK``). The base
model runs on the top-level seeds, as the in-context row does, so the two pair by seed.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import sys
import tempfile
from pathlib import Path
from typing import Any

from harness.causal.data import read_rows
from harness.causal.evaluation import RAG_TASK, evaluate_seed
from harness.causal.retrieval import nearest_demonstrations
from harness.causal.settings import causal_run, causal_section, rag_name
from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.paths import causal_model_dir, seed_subdir
from harness.core.registry import CAUSAL_TASKS
from harness.core.workers import run_seeds
from harness.engine.resources import pick_device
from harness.stages.common import causal_data_hashes, size_on_disk, write_run_result

log = logging.getLogger("harness.causal_rag")


def jsonl(rows: list[dict[str, Any]], contexts: list[str]) -> str:
    return "".join(json.dumps({**row, "context": context}, ensure_ascii=False, sort_keys=True) + "\n" for row, context in zip(rows, contexts))


def run(params: Params, model: str) -> dict[str, Any]:
    causal = causal_section(params)
    if causal.rag is None:
        raise HarnessError("params.yaml: causal.rag: section missing (the models asked with retrieved demonstrations)")
    if model not in causal.rag.models:
        raise HarnessError(f"params.yaml: causal.rag.models: no {model!r}; models: {', '.join(causal.rag.models)}")
    method, seeds = "base model", params.seeds
    if model != "base":
        _, m, cfg = causal_run(params, model)
        method, seeds = m.name, seeds_of(params, cfg)
    task = CAUSAL_TASKS.get(causal.task)()
    device = pick_device(causal.loop.device)
    train, test = read_rows("train"), read_rows("test")
    contexts, retrieval = nearest_demonstrations(train, test, causal.icl_shots)
    rows = jsonl(test, contexts)
    with tempfile.TemporaryDirectory(prefix="rag-") as scratch:
        data_dir = Path(scratch)
        (data_dir / "test.jsonl").write_text(rows, encoding="utf-8")
        # lm-eval loads the training split too (one schema for both files); zero-shot, it reads none of it
        (data_dir / "train.jsonl").write_text(jsonl(train, [""] * len(train)), encoding="utf-8")

        def one_seed(seed: int) -> dict[str, Any]:
            artifact = None if model == "base" else causal_model_dir(model) / seed_subdir(seed)
            result = evaluate_seed(causal, task, artifact, seed, device.type, data_dir=data_dir, tasks=(RAG_TASK,))
            result["artifact_bytes"] = size_on_disk(artifact) if artifact is not None else 0
            log.info("causal_rag@%s seed %d: %s", model, seed, {k: round(v, 3) for k, v in result["metrics"].items()})
            return result

        done = run_seeds(one_seed, seeds, threads=causal.loop.threads, device=device, log=log, label=f"causal_rag@{model}")
    body = {
        "method": f"{method} + retrieved demonstrations",
        "task": causal.task,
        "shots": causal.icl_shots,
        "retrieval": retrieval,
        "decoding": dataclasses.asdict(causal.decoding),
        "example_prompt": contexts[0] + test[0]["mr"] + " ||",
        "seeds": {str(seed): result for seed, result in done.items()},
    }
    hashes = {**causal_data_hashes(), "test_with_demonstrations": hashlib.sha256(rows.encode()).hexdigest()}
    return write_run_result("causal_eval", rag_name(model), seeds, body, hashes)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness causal-rag <model>  (base, or a run under causal.runs)")
    run(load_params(), argv[0])
