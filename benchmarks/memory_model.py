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
    from harness.memory import activation_bytes, activation_probe, saved_for_backward
    from harness.resources import PeakMemory

    model, base, inputs = activation_probe(load_params(), run, checkpointing=checkpointing, batch=batch, seq_len=seq)
    saved = saved_for_backward(model, inputs)
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
    return {"run": run, "checkpointing": checkpointing, "measured_mb": peak.as_dict()["peak_rss_delta_mb"], "saved_mb": saved / 2**20,
            "saved_model_mb": acts["saved"] / 2**20,
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
    print("| run | checkpointing | measured MB | model MB (gradients + activations) | model / measured | autograd saved MB | model's saved MB |")
    print("|---|---|---|---|---|---|---|")
    for run in ("full", "lora"):
        for checkpointing in ("0", "1"):
            out = subprocess.run([sys.executable, __file__, "--batch", str(args.batch), "--seq", str(args.seq), "--one", run, checkpointing],
                                 capture_output=True, text=True, check=True).stdout
            r = json.loads(out.strip().splitlines()[-1])
            print(f"| {run} | {'yes' if r['checkpointing'] else 'no'} | {r['measured_mb']:.0f} | {r['model_mb']:.0f} "
                  f"({r['grads_mb']:.0f} + {r['activations_mb']:.0f}) | {r['model_mb'] / r['measured_mb']:.2f} | {r['saved_mb']:.0f} | {r['saved_model_mb']:.0f} |")


if __name__ == "__main__":
    main()
