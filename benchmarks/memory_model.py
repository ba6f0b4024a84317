"""The analytic memory model (harness/memory.py) against the measured peak of a training step on this CPU.

    python benchmarks/memory_model.py [--batch 16] [--seq 128]

Each configuration (full fine-tuning and LoRA of the default model, with and without gradient
checkpointing, fp32) runs in a fresh process: one warm-up training step allocates the AdamW states (their
size is exact: 8 bytes a trainable parameter), the memory it freed goes back to the OS (malloc_trim), and the
peak resident memory above that point is sampled over a second step. The model predicts that rise as the
gradients (4 bytes a trainable parameter) plus the activations kept for the backward pass and the one layer
a checkpointed backward rebuilds. Also printed: what autograd saved, counted
exactly (tests/test_memory.py holds the activation count to 25% of it).
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys


def measure(run: str, checkpointing: bool, batch: int, seq: int) -> dict:
    import torch

    from harness.core.config import load_params
    from harness.core.registry import METHODS
    from harness.memory import activation_bytes
    from harness.resources import PeakMemory

    params = load_params()
    method, cfg = METHODS.get(params.train[run].method)(), params.train[run]
    torch.manual_seed(0)
    model = method.prepare(method.base_model(params.model, 2, cfg), cfg, total_steps=4).train()
    base = model if run == "full" else model.base_model.model
    if checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    inputs = {"input_ids": torch.randint(1000, 2000, (batch, seq)), "attention_mask": torch.ones(batch, seq, dtype=torch.long),
              "labels": torch.zeros(batch, dtype=torch.long)}
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    for measured in (False, True):  # a warm-up step, then the measured one
        if measured:
            gc.collect()
            ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand what the warm-up step freed back to the OS
        with PeakMemory(torch.device("cpu"), interval_s=0.002) as peak:
            model(**inputs).loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
    n = sum(p.numel() for p in trainable)
    acts = activation_bytes(base.config, batch=batch, seq_len=seq, bytes_per_value=4, checkpointing=checkpointing)
    return {"run": run, "checkpointing": checkpointing, "measured_mb": peak.as_dict()["peak_rss_delta_mb"],
            "model_mb": (4 * n + acts["total"]) / 2**20, "activations_mb": acts["total"] / 2**20, "grads_mb": 4 * n / 2**20}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # run, checkpointing: the child process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1] == "1", args.batch, args.seq)))
        return
    print(f"one training step, batch {args.batch} x {args.seq} tokens, fp32, peak RSS rise over model + AdamW states")
    print("| run | checkpointing | measured MB | model MB (gradients + activations) | model / measured |")
    print("|---|---|---|---|---|")
    for run in ("full", "lora"):
        for checkpointing in ("0", "1"):
            out = subprocess.run([sys.executable, __file__, "--batch", str(args.batch), "--seq", str(args.seq), "--one", run, checkpointing],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"| {run} | {'yes' if r['checkpointing'] else 'no'} | {r['measured_mb']:.0f} | {r['model_mb']:.0f} "
                  f"({r['grads_mb']:.0f} + {r['activations_mb']:.0f}) | {r['model_mb'] / r['measured_mb']:.2f} |")


if __name__ == "__main__":
    main()
