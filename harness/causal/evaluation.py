"""Causal runs evaluated through lm-eval's Python API (``simple_evaluate`` with ``pretrained=...,peft=...``)
on the task YAMLs in ``lm_eval_tasks``, pointed at the prepared JSONL splits.

The same call evaluates a LoRA/AdaLoRA adapter (``peft=``), a fully fine-tuned model (``pretrained=`` its
directory), the untrained base model with k demonstrations (the in-context row), and any of them with retrieved
demonstrations (``RAG_TASK``: the test rows carry their own ``context``).
"""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Any

from harness.causal.settings import CausalConfig, DecodingConfig
from harness.causal.tasks.base import CausalTask
from harness.core.paths import CAUSAL_BASE, CAUSAL_DATA
from harness.core.registry import GENERATION_METRICS

TASK_DIR = Path(__file__).parent / "lm_eval_tasks"
ICL = "icl"  # the in-context row's name: the untrained base model with k demonstrations
GENERATION_TASK = "peft_repro_d2t"
RAG_TASK = "peft_repro_d2t_rag"
METRICS = {
    "peft_repro_ppl": ("word_perplexity", "byte_perplexity", "bits_per_byte"),
    "peft_repro_d2t_ppl": ("ref_word_perplexity",),
    GENERATION_TASK: tuple(GENERATION_METRICS.names()),
    RAG_TASK: tuple(GENERATION_METRICS.names()),
}


def task_spec(names: tuple[str, ...], data_dir: Path, shots: int) -> dict[str, Any]:
    """A group of lm-eval tasks with their data files (and the number of demonstrations for generation;
    perplexity is always zero-shot) overridden: lm-eval's documented per-task overrides."""
    files = {"train": str((data_dir / "train.jsonl").resolve()), "test": str((data_dir / "test.jsonl").resolve())}
    members = []
    for name in names:
        member = {"task": name, "dataset_kwargs": {"data_files": files}}
        if name == GENERATION_TASK:
            member["num_fewshot"] = shots
        members.append(member)
    return {"group": "peft_repro", "task": members}


def evaluate(
    *,
    base: Path,
    task: CausalTask,
    data_dir: Path,
    decoding: DecodingConfig,
    seed: int,
    batch_size: int,
    max_length: int,
    dtype: str = "float32",
    device: str = "cpu",
    peft: Path | None = None,
    pretrained: Path | None = None,
    shots: int = 0,
    limit: int | None = None,
    tasks: tuple[str, ...] | None = None,
) -> dict[str, Any]:
    """Metrics of one model on lm-eval tasks (by default the task's own): ``{"metrics": {...}, "not_run": {metric: why}}``.

    ``base`` holds the tokenizer (and is the model unless ``pretrained`` is given); ``seed`` fixes lm-eval's
    RNGs, including which demonstrations a few-shot prompt draws.
    """
    names = tasks or task.lm_eval_tasks
    import lm_eval
    from lm_eval.tasks import TaskManager

    model_args = {"pretrained": str(pretrained or base), "tokenizer": str(base), "dtype": dtype, "device": device, "max_length": max_length}
    if peft is not None:
        model_args["peft"] = str(peft)
    gen_kwargs = {
        "num_beams": decoding.num_beams, "length_penalty": decoding.length_penalty,
        "no_repeat_ngram_size": decoding.no_repeat_ngram_size, "max_gen_toks": decoding.max_new_tokens, "do_sample": False,
    }
    out = lm_eval.simple_evaluate(
        model="hf",
        model_args=model_args,
        tasks=[task_spec(names, data_dir, shots)],
        task_manager=TaskManager(include_path=str(TASK_DIR), include_defaults=False),
        batch_size=batch_size,
        gen_kwargs=gen_kwargs,
        limit=limit,
        random_seed=seed, numpy_random_seed=seed, torch_random_seed=seed, fewshot_random_seed=seed,
        bootstrap_iters=0,
        log_samples=False,
    )
    metrics: dict[str, float] = {}
    not_run: dict[str, str] = {}
    for name in names:
        for metric in METRICS[name]:
            value = out["results"][name][f"{metric},none"]
            if isinstance(value, float) and math.isnan(value):
                not_run[metric] = GENERATION_METRICS.get(metric)().unavailable() or "metric returned NaN"
            else:
                metrics[metric] = float(value)
    return {"metrics": metrics, "not_run": not_run, "n_test": {n: int(out["n-samples"][n]["effective"]) for n in names}}


def evaluate_seed(causal: CausalConfig, task: CausalTask, artifact: Path | None, seed: int, device: str, *, shots: int = 0,
                  data_dir: Path = CAUSAL_DATA, tasks: tuple[str, ...] | None = None) -> dict[str, Any]:
    """One seed's model through :func:`evaluate`, timed: ``artifact`` is a peft adapter or a whole model's directory,
    or None for the untrained base model (``CAUSAL_BASE``, which always provides the tokenizer)."""
    import torch

    is_adapter = artifact is not None and (artifact / "adapter_config.json").is_file()
    start = time.perf_counter()
    result = evaluate(
        base=CAUSAL_BASE, task=task, data_dir=data_dir, decoding=causal.decoding, seed=seed, batch_size=causal.eval_batch_size,
        max_length=causal.max_length, dtype=causal.dtype, device=device, shots=shots, tasks=tasks,
        peft=artifact if is_adapter else None, pretrained=artifact if artifact is not None and not is_adapter else None,
    )
    result["eval_seconds"] = time.perf_counter() - start
    result["threads"] = torch.get_num_threads()
    return result
