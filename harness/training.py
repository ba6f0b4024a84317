"""The training loop shared by every method: seeded, measured, with the method's hooks at the right places.

Written by hand rather than with ``transformers.Trainer``: AdaLoRA needs a call between the optimizer step
and ``zero_grad`` (the Trainer has no such hook in the right place), and the loop must cost no more than
a bare peft loop on the same batches (``benchmarks/loop_overhead.py`` measures that).
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections.abc import Callable
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, get_scheduler
from transformers import set_seed as hf_set_seed
from transformers.trainer_pt_utils import LengthGroupedSampler

from harness.core.config import LoopConfig
from harness.core.errors import HarnessError
from harness.methods.base import Method
from harness.resources import PeakMemory

log = logging.getLogger("harness.training")


def seed_everything(seed: int) -> None:
    """Seed python, numpy and torch (CPU and CUDA). Call before the head and the adapter are initialised."""
    hf_set_seed(seed)


def total_steps(loop: LoopConfig, n_train: int) -> int:
    if loop.max_steps:
        return loop.max_steps
    return max(1, math.ceil(loop.epochs * math.ceil(n_train / loop.batch_size)))


def train_loader(dataset, tokenizer, batch_size: int, seed: int, group_by_length: bool = False, collate_fn=None) -> DataLoader:
    """Shuffled batches, padded per batch to its longest sequence (by ``collate_fn``, default: pad
    inputs only); the order is fixed by ``seed``.

    With ``group_by_length`` the shuffle is transformers' ``LengthGroupedSampler`` (random mega-batches,
    sorted by length inside), which cuts the padding the GEMMs spend time on.
    """
    generator = torch.Generator().manual_seed(seed)
    sampler = None
    if group_by_length:
        lengths = [len(ids) for ids in dataset["input_ids"]]
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator if sampler is None else None,
        collate_fn=collate_fn or DataCollatorWithPadding(tokenizer),
    )


def batches(loader: DataLoader, steps: int):
    """``steps`` batches, re-iterating the loader (a new shuffle each epoch) as often as needed."""
    done = 0
    while True:
        for batch in loader:
            if done == steps:
                return
            yield batch
            done += 1


@dataclasses.dataclass
class TrainStats:
    steps: int
    train_seconds: float
    tokens: int
    tokens_per_s: float
    # CPU time of the process over the same span: unlike wall time, it does not depend on how many seeds
    # shared the cores (harness/core/workers.py), so tokens per CPU-second compare across schedules
    cpu_seconds: float
    final_loss: float | None  # None: the method takes no gradient steps
    loss_curve: list[tuple[int, float]]
    memory: dict[str, Any]
    val_curve: list[tuple[int, float]]
    steps_to_target: int | None


def first_reaching(curve: list[tuple[int, float]], target: float | None) -> int | None:
    """First step of the validation curve at or above ``target`` (None: never, or no target)."""
    if target is None:
        return None
    return next((step for step, value in curve if value >= target), None)


def train(
    model: nn.Module,
    method: Method,
    cfg: Any,
    loader: DataLoader,
    loop: LoopConfig,
    steps: int,
    device: torch.device,
    log_every: int = 10,
    label: str | None = None,
    tracker: Callable[[nn.Module], float] | None = None,
    track_every: int = 0,
) -> TrainStats:
    """Run ``steps`` optimizer steps. ``tracker(model)`` (the validation metric) is called every
    ``track_every`` steps with the model in eval mode; its time is excluded from ``train_seconds``.
    With a ``label``, a progress line (step, loss, time left) is logged at every quarter of the run."""
    lr = cfg.lr or loop.lr
    optimizer = method.optimizer(model, cfg, lr=lr, weight_decay=loop.weight_decay)
    scheduler = get_scheduler(
        loop.scheduler, optimizer, num_warmup_steps=int(loop.warmup_ratio * steps), num_training_steps=steps
    )
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.to(device).train()
    curve: list[tuple[int, float]] = []
    window = torch.zeros((), device=device)
    tokens = torch.zeros((), dtype=torch.long, device=device)
    val_curve: list[tuple[int, float]] = []
    tracking_seconds = 0.0
    report_every = max(1, steps // 4)
    tracking_cpu_seconds = 0.0
    with PeakMemory(device) as mem:
        start, cpu_start = time.perf_counter(), time.process_time()
        for step, batch in enumerate(batches(loader, steps)):
            batch = {k: v.to(device, non_blocking=True) for k, v in batch.items()}
            loss = model(**batch).loss
            loss.backward()
            if loop.max_grad_norm > 0:
                torch.nn.utils.clip_grad_norm_(trainable, loop.max_grad_norm)
            optimizer.step()
            scheduler.step()
            method.before_zero_grad(model, step)
            optimizer.zero_grad(set_to_none=True)
            window += loss.detach()
            tokens += batch["attention_mask"].sum()
            if (step + 1) % log_every == 0 or step + 1 == steps:
                n = (step % log_every) + 1
                curve.append((step + 1, window.item() / n))
                window.zero_()
            if tracker is not None and track_every and ((step + 1) % track_every == 0 or step + 1 == steps):
                t0, cpu0 = time.perf_counter(), time.process_time()
                # forked RNG: the tracker's DataLoader draws a seed from torch's global generator, which
                # would otherwise shift every later dropout mask (tracking must not change the run)
                with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
                    val_curve.append((step + 1, tracker(model)))
                model.train()
                tracking_seconds += time.perf_counter() - t0
                tracking_cpu_seconds += time.process_time() - cpu0
            if label and (step + 1) % report_every == 0 and step + 1 < steps:
                elapsed = time.perf_counter() - start
                log.info("%s: step %d/%d, loss %.4f, %.0f s, ~%.0f s left", label, step + 1, steps, loss.item(), elapsed, elapsed / (step + 1) * (steps - step - 1))
        if device.type == "cuda":
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start - tracking_seconds
        cpu_seconds = time.process_time() - cpu_start - tracking_cpu_seconds
    n_tokens = int(tokens.item())
    if not math.isfinite(curve[-1][1]):
        raise HarnessError(f"training diverged: loss is {curve[-1][1]} at step {steps}; lower loop.lr or the run's lr")
    return TrainStats(
        steps=steps,
        train_seconds=seconds,
        tokens=n_tokens,
        tokens_per_s=n_tokens / seconds,
        cpu_seconds=cpu_seconds,
        final_loss=curve[-1][1],
        loss_curve=curve,
        memory=mem.as_dict(),
        val_curve=val_curve,
        steps_to_target=first_reaching(val_curve, loop.target),
    )


def fit_without_steps(model: nn.Module, method: Method, cfg: Any, dataset, tokenizer, device: torch.device) -> tuple[nn.Module, TrainStats]:
    """Methods without gradient steps (retrieval): ``method.fit`` over the training split, measured like training."""
    with PeakMemory(device) as mem:
        start, cpu_start = time.perf_counter(), time.process_time()
        model = method.fit(model, cfg, dataset, tokenizer, device)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    tokens = sum(len(ids) for ids in dataset["input_ids"])
    return model, TrainStats(
        steps=0, train_seconds=seconds, tokens=tokens, tokens_per_s=tokens / seconds, cpu_seconds=cpu_seconds, final_loss=None,
        loss_curve=[], memory=mem.as_dict(), val_curve=[], steps_to_target=None,
    )
