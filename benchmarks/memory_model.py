"""The analytic memory model (harness/costs/memory_model.py) against the measured peak of a training step.

    python benchmarks/memory_model.py [--batch 16] [--seq 128] [--device cpu|cuda]

Each configuration (full fine-tuning and LoRA of the default model, with and without gradient
checkpointing, fp32) runs in a fresh process. A warm-up AdamW step allocates the optimizer's states; the
next step is measured twice:
* its peak tensor memory, by kind (torch's MemTracker: weights, gradients, optimizer states, activations,
  the backward pass's temporaries), and on CUDA the allocator's max allocated: what the model predicts,
  weights + gradients + AdamW states + activations, all at 4 bytes a value;
* its peak resident memory above the process's RSS before the step (the memory the warm-up freed handed back
  to the OS first, malloc_trim), against the model's gradients + activations: the allocator's slack on
  top of the tensors, which the model does not count.
Also printed: what autograd saved, counted exactly, beside the model's count of it.
"""

from __future__ import annotations

import argparse
import ctypes
import gc
import json
import subprocess
import sys

MB = 2**20


def measure(run: str, checkpointing: bool, batch: int, seq: int, device_name: str) -> dict:
    import torch

    from harness.core.config import load_params
    from harness.costs.memory_model import activation_bytes, activation_probe, saved_for_backward, step_peak_bytes, training_bytes, training_step
    from harness.engine.resources import PeakMemory

    device = torch.device(device_name)
    model, base, inputs = activation_probe(load_params(), run, checkpointing=checkpointing, batch=batch, seq_len=seq)
    model, inputs = model.to(device), {k: v.to(device) for k, v in inputs.items()}
    saved = saved_for_backward(model, inputs)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    training_step(model, inputs, optimizer)  # the warm-up: AdamW's states now exist
    gc.collect()
    if device.type == "cpu":
        ctypes.CDLL("libc.so.6").malloc_trim(0)  # hand what the warm-up step freed back to the OS
    with PeakMemory(device, interval_s=0.002) as rss:
        training_step(model, inputs, optimizer)
    peak = step_peak_bytes(model, optimizer, inputs)
    n, total = sum(p.numel() for p in trainable), sum(p.numel() for p in model.parameters())
    states = training_bytes(total, n, base_bits=32, bytes_per_value=4)
    acts = activation_bytes(base.config, batch=batch, seq_len=seq, bytes_per_value=4, checkpointing=checkpointing)
    return {"run": run, "checkpointing": checkpointing, "device": torch.cuda.get_device_name(device) if device.type == "cuda" else "cpu",
            "model": {"weights": states["weights"] / MB, "grads": states["grads"] / MB, "optimizer": states["optimizer"] / MB,
                      "activations": acts["total"] / MB, "total": (states["total"] + acts["total"]) / MB},
            "peak": {kind: size / MB for kind, size in peak.items()},
            "cuda_max_allocated_mb": rss.as_dict()["cuda_max_allocated_mb"],
            "rss_rise_mb": rss.as_dict()["peak_rss_delta_mb"], "saved_mb": saved / MB, "saved_model_mb": acts["saved"] / MB}


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--batch", type=int, default=16)
    ap.add_argument("--seq", type=int, default=128)
    ap.add_argument("--device", default="cpu", choices=["cpu", "cuda"])
    ap.add_argument("--one", nargs=2, help=argparse.SUPPRESS)  # run, checkpointing: the child process
    args = ap.parse_args()
    if args.one:
        print(json.dumps(measure(args.one[0], args.one[1] == "1", args.batch, args.seq, args.device)))
        return
    rows = []
    for run in ("full", "lora"):
        for checkpointing in ("0", "1"):
            out = subprocess.run([sys.executable, __file__, "--batch", str(args.batch), "--seq", str(args.seq), "--device", args.device, "--one", run, checkpointing],
                                 capture_output=True, text=True, check=True).stdout
            rows.append(json.loads(out.strip().splitlines()[-1]))
    print(f"one AdamW step, batch {args.batch} x {args.seq} tokens, fp32, on {rows[0]['device']}; MB")
    print("| run | checkpointing | model: weights + grads + AdamW + activations | measured peak (MemTracker): weights + grads + AdamW + activations + temporaries "
          "| model / peak | CUDA max allocated | RSS rise (model: grads + activations) | autograd saved (model) |")
    print("|---|---|---|---|---|---|---|---|")
    for r in rows:
        m, p = r["model"], r["peak"]
        cuda = "-" if r["cuda_max_allocated_mb"] is None else f"{r['cuda_max_allocated_mb']:.0f} (model / it {m['total'] / r['cuda_max_allocated_mb']:.2f})"
        print(f"| {r['run']} | {'yes' if r['checkpointing'] else 'no'} "
              f"| {m['total']:.0f} = {m['weights']:.0f} + {m['grads']:.0f} + {m['optimizer']:.0f} + {m['activations']:.0f} "
              f"| {p['Total']:.0f} = {p.get('Parameter', 0) + p.get('Buffer', 0):.0f} + {p.get('Gradient', 0):.0f} + {p.get('Optstate', 0):.0f} "
              f"+ {p.get('Activation', 0):.0f} + {p.get('Temp', 0):.0f} | {m['total'] / p['Total']:.2f} | {cuda} "
              f"| {r['rss_rise_mb']:.0f} ({m['grads'] + m['activations']:.0f}) | {r['saved_mb']:.0f} ({r['saved_model_mb']:.0f}) |")


if __name__ == "__main__":
    main()
