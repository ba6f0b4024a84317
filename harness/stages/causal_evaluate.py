"""Stage ``causal_evaluate@<run>`` (and ``causal_evaluate_icl``): every seed's model through lm-eval on the
task's shipped lm-eval tasks -> ``results/causal/eval/<run>.json``.

A trained run is evaluated zero-shot, its adapter loaded with ``peft=`` (or its directory as
``pretrained=`` for full fine-tuning). The in-context row (``icl``) is the untrained base model with
``causal.icl_shots`` demonstrations drawn from the training split by each seed: no training, the
retrieval/in-context line of the atlas for causal models.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from typing import Any

from harness.causal.evaluation import ICL, evaluate_seed
from harness.causal.settings import causal_run, causal_section
from harness.core.config import Params, load_params, seeds_of
from harness.core.paths import causal_model_dir, seed_subdir
from harness.core.registry import CAUSAL_TASKS
from harness.core.workers import run_seeds
from harness.engine.resources import pick_device
from harness.stages.common import causal_data_hashes, size_on_disk, write_run_result

log = logging.getLogger("harness.causal_evaluate")


def run(params: Params, name: str) -> dict[str, Any]:
    causal = causal_section(params)
    if name == ICL:  # no training: the top-level seeds (they draw its demonstrations)
        method, shots, seeds = "in_context", causal.icl_shots, params.seeds
    else:
        _, m, cfg = causal_run(params, name)
        method, shots, seeds = m.name, 0, seeds_of(params, cfg)
    task = CAUSAL_TASKS.get(causal.task)()
    device = pick_device(causal.loop.device)

    def one_seed(seed: int) -> dict[str, Any]:
        artifact = None if name == ICL else causal_model_dir(name) / seed_subdir(seed)
        result = evaluate_seed(causal, task, artifact, seed, device.type, shots=shots)
        result["artifact_bytes"] = size_on_disk(artifact) if artifact is not None else 0
        log.info("causal_evaluate@%s seed %d: %s", name, seed, {k: round(v, 3) for k, v in result["metrics"].items()})
        return result

    done = run_seeds(one_seed, seeds, threads=causal.loop.threads, device=device, log=log, label=f"causal_evaluate@{name}")
    per_seed = {str(seed): result for seed, result in done.items()}
    body = {"method": method, "task": causal.task, "shots": shots, "decoding": dataclasses.asdict(causal.decoding), "seeds": per_seed}
    return write_run_result("causal_eval", name, seeds, body, causal_data_hashes())


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness causal-evaluate <run>|icl")
    run(load_params(), argv[0])
