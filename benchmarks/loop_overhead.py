"""Harness training loop vs a bare peft loop on the same batches; prints the ratio, non-pad tokens/s
and the fraction of this CPU's measured fp32 GEMM peak the step reaches.

    python benchmarks/loop_overhead.py [--steps 40] [--repeats 3] [--run lora]

Both loops run the same recipe (the run's optimizer, clipping, schedule and method hook) from the
same seeded model on the same pre-collated batches, so the ratio is what the harness's loop adds alone
(transformers' Trainer and accelerate, our callbacks: loss and token accounting, memory sampling); they alternate
(bare, harness, bare, harness, ...) so drift on a noisy machine hits both, and the median is compared.
FLOPs per step are counted by torch's FlopCounterMode, not estimated.
"""

from __future__ import annotations

import argparse
import statistics
import time

import torch
from gemm_peak import gemm_peak_gflops  # benchmarks/gemm_peak.py (scripts run from benchmarks/)
from torch.utils.flop_counter import FlopCounterMode
from transformers import get_scheduler

from harness.core.command_table import configure_logging
from harness.core.config import load_params
from harness.core.seeding import seed_everything
from harness.engine.models import load_classifier
from harness.engine.trainer import train, train_loader
from harness.stages.common import load_prepared, run_method


def fresh_model(params, run, steps):
    method, cfg = run_method(params, run)
    seed_everything(0)
    model = method.prepare(load_classifier(params.model.name, len(params.data.labels)), cfg, total_steps=steps)
    return method, cfg, model


def bare_loop(model, method, cfg, batches, loop) -> float:
    """The same recipe written plainly (AdamW, clipping, schedule, the method's hook), none of the
    harness's bookkeeping: the ratio then isolates what the harness adds."""
    opt = method.optimizer(model, cfg, lr=cfg.lr or loop.lr, weight_decay=loop.weight_decay)
    sched = get_scheduler(loop.scheduler, opt, num_warmup_steps=int(loop.warmup_ratio * len(batches)), num_training_steps=len(batches))
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()
    start = time.perf_counter()
    for step, batch in enumerate(batches):
        model(**batch).loss.backward()
        torch.nn.utils.clip_grad_norm_(trainable, loop.max_grad_norm)
        opt.step()
        sched.step()
        method.before_zero_grad(model, step)
        opt.zero_grad(set_to_none=True)
    return time.perf_counter() - start


def main() -> None:
    configure_logging()
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="lora")
    ap.add_argument("--steps", type=int, default=40)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    params = load_params()
    splits, tokenizer = load_prepared()
    batches = list(train_loader(splits["train"], tokenizer, params.loop.batch_size, 0, params.loop.group_by_length))[: args.steps]
    tokens = sum(int(b["attention_mask"].sum()) for b in batches)
    device = torch.device("cpu")

    method, cfg, model = fresh_model(params, args.run, len(batches))
    with FlopCounterMode(display=False) as counter:
        model(**batches[0]).loss.backward()
    model.zero_grad(set_to_none=True)
    flops_per_token = counter.get_total_flops() / int(batches[0]["attention_mask"].numel())

    bare, harness = [], []
    for _ in range(args.repeats):
        method, cfg, model = fresh_model(params, args.run, len(batches))
        bare.append(bare_loop(model, method, cfg, batches, params.loop))
        method, cfg, model = fresh_model(params, args.run, len(batches))
        loader = torch.utils.data.DataLoader(batches, batch_size=None)  # the same pre-collated batches, in order
        harness.append(train(model, method, cfg, loader, params.loop, len(batches), device).train_seconds)
    peak = gemm_peak_gflops()
    b, h = statistics.median(bare), statistics.median(harness)
    padded = sum(int(x["attention_mask"].numel()) for x in batches)
    print(f"run {args.run}: {len(batches)} steps x batch {params.loop.batch_size}, {tokens} non-pad tokens ({padded} with padding)")
    print(f"bare peft loop   median {b:.2f} s  ({tokens / b:.0f} non-pad tokens/s)  runs {['%.2f' % x for x in bare]}")
    print(f"harness loop     median {h:.2f} s  ({tokens / h:.0f} non-pad tokens/s)  runs {['%.2f' % x for x in harness]}")
    print(f"harness / bare time ratio: {h / b:.3f}  (overhead {100 * (h / b - 1):+.1f}%, target <= +3%)")
    achieved = flops_per_token * padded / h / 1e9
    print(f"counted {flops_per_token / 1e6:.1f} MFLOP per (padded) token fwd+bwd -> {achieved:.1f} GFLOP/s "
          f"= {100 * achieved / peak:.0f}% of measured fp32 GEMM peak {peak:.0f} GFLOP/s ({torch.get_num_threads()} threads)")


if __name__ == "__main__":
    main()
