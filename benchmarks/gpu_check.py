"""The prepared GPU check (``make gpu-check``): what a lent GPU should tell this project, in one command that fits
in a few minutes of one H100 with time left to rerun it.

    python benchmarks/gpu_check.py [--out results/gpu] [--steps 60]      # on a GPU
    python benchmarks/gpu_check.py --quick --out /tmp/gpu                 # a CPU smoke run (tests/test_gpu_check.py)

(a) The default pipeline's core runs (LoRA, AdaLoRA, LoRA+, full fine-tuning) trained through the harness's own
    fitting code (``harness.engine.fit_seed.fit_seed``: the Trainer, the methods' hooks) on the device, in bf16 and in fp32,
    at the learning rates the committed tune stage chose, on the default's generated data: tokens/s, model FLOPs
    utilisation (MFU) against this device's measured GEMM peak in that precision, CUDA max allocated against
    ``harness.costs.memory_model``'s model (weights, gradients, AdamW states, activations), the final loss and validation
    accuracy (the same code path as the CPU results, so a precision or device fault shows as a broken accuracy).
(b) DeBERTaV3-base at full size, built from its config (random init: nothing is downloaded), the AdaLoRA paper's
    six adapted matrices per layer, LoRA r=8 and AdaLoRA (12 -> 8) in bf16 autocast, batch 32 x 128 tokens:
    steps/s, MFU, peak memory against the model.
(c) ``<out>/<date>-<device>.json`` (figures and provenance: commit, packages, hardware) and a markdown table,
    printed, that the README's GPU table copies, with the device named.

MFU counts the FLOPs of one forward and backward pass as run (torch's FlopCounterMode; frozen weights get no
weight-gradient GEMM, so a PEFT step counts about 2/3 of a full one) per second, over the measured dense GEMM
peak of the same dtype (``gemm_peak.py``; an H100 SXM's datasheet bf16 figure is 989 TFLOP/s).
"""

from __future__ import annotations

import argparse
import dataclasses
import json
import os
import tempfile
import time
from datetime import date
from pathlib import Path

import torch
from gemm_peak import gemm_peak_gflops, step_flops  # benchmarks/gemm_peak.py (scripts run from benchmarks/)

ROOT = Path(__file__).resolve().parents[1]
CORE = ("lora", "adalora", "loraplus", "full")
MB = 2**20


def modelled_bytes(model, base, batch: int, seq: int, activation_bytes_per_value: int) -> float:
    """harness.costs.memory_model's count for one step: fp32 master weights, fp32 gradients and AdamW states of what trains,
    activations at the autocast precision."""
    from harness.costs.memory_model import activation_bytes, training_bytes

    trainable = sum(p.numel() for p in model.parameters() if p.requires_grad)
    total = sum(p.numel() for p in model.parameters())
    states = training_bytes(total, trainable, base_bits=32, bytes_per_value=4)["total"]
    return states + activation_bytes(base.config, batch=batch, seq_len=seq, bytes_per_value=activation_bytes_per_value)["total"]


def core_runs(device: str, precisions: list[str], steps: int, runs: tuple[str, ...], peaks: dict[str, float]) -> list[dict]:
    """(a): the default's core runs through fit_seed, in a scratch workspace holding the default's prepared data."""
    from harness.core.config import load_params
    from harness.core.io import read_json
    from harness.core.registry import METHODS
    from harness.engine.fit_seed import fit_seed
    from harness.engine.inference import predict, score
    from harness.engine.trainer import train_loader
    from harness.stages import prepare
    from harness.stages.common import load_prepared

    params = load_params(ROOT / "params.yaml")
    rows = []
    here = os.getcwd()
    with tempfile.TemporaryDirectory() as scratch:
        os.chdir(scratch)
        try:
            prepare.run(params)
            splits, tokenizer = load_prepared()
            for precision in precisions:
                loop = dataclasses.replace(params.loop, device=device, precision=precision, max_steps=steps, threads=0, track_every=0)
                run_params = dataclasses.replace(params, loop=loop)
                for run in runs:
                    method, cfg = METHODS.get(params.train[run].method)(), params.train[run]
                    lr = read_json(ROOT / "results" / "tune" / f"{run}.json")["chosen_lr"]
                    cfg = dataclasses.replace(cfg, lr=lr)
                    if device == "cuda":
                        torch.cuda.reset_peak_memory_stats()
                    model, stats = fit_seed(run_params, run, method, cfg, params.seeds[0], splits, tokenizer, track=False)
                    preds, labels, _ = predict(model, splits["validation"], tokenizer, params.loop.eval_batch_size, torch.device(device))
                    batch = next(iter(train_loader(splits["train"], tokenizer, params.loop.batch_size, 0)))
                    batch = {k: v.to(device) for k, v in batch.items()}
                    tokens = int(batch["attention_mask"].sum())
                    with torch.autocast(device, dtype=torch.bfloat16, enabled=precision == "bf16"):
                        flops_per_token = step_flops(model.train(), batch) / tokens
                    base = model.get_base_model() if hasattr(model, "get_base_model") else model
                    seq = batch["input_ids"].shape[1]
                    rows.append({
                        "part": "default core runs", "run": run, "precision": precision, "steps": stats.steps, "lr": lr,
                        "tokens_per_s": stats.tokens_per_s, "train_seconds": stats.train_seconds,
                        "mfu": flops_per_token * stats.tokens_per_s / (peaks[precision] * 1e9),
                        "cuda_max_allocated_mb": stats.memory.get("cuda_max_allocated_mb"),
                        "peak_rss_mb": stats.memory.get("peak_rss_mb"),
                        "modelled_mb": modelled_bytes(model, base, params.loop.batch_size, seq, 2 if precision == "bf16" else 4) / MB,
                        "final_loss": stats.final_loss,
                        "validation_accuracy": score(preds, labels, ["accuracy"])["accuracy"],
                    })
                    print(json.dumps(rows[-1]), flush=True)
        finally:
            os.chdir(here)
    return rows


def deberta(device: str, steps: int, quick: bool, peak_bf16: float) -> list[dict]:
    """(b): DeBERTaV3-base from its config with the AdaLoRA paper's target modules, LoRA and AdaLoRA in bf16."""
    import yaml
    from transformers import AutoConfig, AutoModelForSequenceClassification

    from harness.core.registry import METHODS
    from harness.core.schema import validate

    arch = dict(yaml.safe_load((ROOT / "experiments" / "paperscale.yaml").read_text())["architectures"]["deberta-v3-base"])
    if quick:
        arch.update(num_hidden_layers=2, hidden_size=64, num_attention_heads=2, intermediate_size=128, vocab_size=512, position_buckets=16)
    batch_size, seq = (4, 32) if quick else (32, 128)
    targets = ["query_proj", "key_proj", "value_proj", "intermediate.dense", "output.dense"]
    settings = {"lora": {"method": "lora", "r": 8, "alpha": 16, "target_modules": targets},
                "adalora": {"method": "adalora", "init_r": 12, "target_r": 8, "alpha": 16, "target_modules": targets,
                            "tinit": 0.1, "tfinal": 0.3, "deltaT": 5}}
    fields = dict(arch)
    config = AutoConfig.for_model(fields.pop("model_type"), **fields, num_labels=2)
    rows = []
    for run, raw in settings.items():
        torch.manual_seed(0)
        method = METHODS.get(raw["method"])()
        cfg = validate(method.Config, raw, run)
        model = method.prepare(AutoModelForSequenceClassification.from_config(config), cfg, total_steps=steps).to(device).train()
        optimizer = torch.optim.AdamW([p for p in model.parameters() if p.requires_grad], lr=1e-4)
        batch = {"input_ids": torch.randint(10, config.vocab_size, (batch_size, seq), device=device),
                 "attention_mask": torch.ones(batch_size, seq, dtype=torch.long, device=device),
                 "labels": torch.randint(0, 2, (batch_size,), device=device)}
        with torch.autocast(device, dtype=torch.bfloat16):
            flops = step_flops(model, batch)
        if device == "cuda":
            torch.cuda.synchronize()
            torch.cuda.reset_peak_memory_stats()
        warm = min(3, steps // 2)
        for step in range(steps):
            if step == warm:
                if device == "cuda":
                    torch.cuda.synchronize()
                start = time.perf_counter()
            with torch.autocast(device, dtype=torch.bfloat16):
                loss = model(**batch).loss
            loss.backward()
            optimizer.step()
            method.before_zero_grad(model, step)
            optimizer.zero_grad(set_to_none=True)
        if device == "cuda":
            torch.cuda.synchronize()
        seconds = time.perf_counter() - start
        rate = (steps - warm) / seconds
        rows.append({
            "part": "DeBERTaV3-base" + (" (shrunk: --quick)" if quick else ""), "run": run, "precision": "bf16", "steps": steps,
            "steps_per_s": rate, "tokens_per_s": rate * batch_size * seq, "mfu": flops * rate / (peak_bf16 * 1e9),
            "cuda_max_allocated_mb": torch.cuda.max_memory_allocated() / MB if device == "cuda" else None,
            "modelled_mb": modelled_bytes(model, model.get_base_model(), batch_size, seq, 2) / MB,
            "final_loss": float(loss), "trainable_params": sum(p.numel() for p in model.parameters() if p.requires_grad),
        })
        print(json.dumps(rows[-1]), flush=True)
    return rows


def table(rows: list[dict], device_name: str) -> str:
    lines = [f"GPU check on {device_name}", "",
             "| part | run | precision | tokens/s | MFU | CUDA max allocated MB (model) | final loss | validation accuracy |",
             "|---|---|---|---|---|---|---|---|"]
    for r in rows:
        memory = "-" if r.get("cuda_max_allocated_mb") is None else f"{r['cuda_max_allocated_mb']:.0f} ({r['modelled_mb']:.0f})"
        accuracy = "-" if r.get("validation_accuracy") is None else f"{r['validation_accuracy']:.1f}"
        lines.append(f"| {r['part']} | {r['run']} | {r['precision']} | {r['tokens_per_s']:.0f} | {100 * r['mfu']:.1f}% | {memory} "
                     f"| {r['final_loss']:.3f} | {accuracy} |")
    return "\n".join(lines)


def main() -> None:
    from harness.core.provenance import git_state, hardware, package_versions

    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--out", default=str(ROOT / "results" / "gpu"), help="folder for <date>-<device>.json")
    ap.add_argument("--steps", type=int, default=60, help="optimizer steps per run")
    ap.add_argument("--quick", action="store_true", help="a CPU smoke run: few steps, LoRA only, DeBERTa shrunk")
    args = ap.parse_args()
    device = "cuda" if torch.cuda.is_available() and not args.quick else "cpu"
    steps = 4 if args.quick else args.steps
    precisions = ["fp32"] if args.quick else ["bf16", "fp32"]
    gemm = 512 if args.quick else 8192
    peaks = {"fp32": gemm_peak_gflops(gemm, device=device, dtype=torch.float32)}
    peaks["bf16"] = gemm_peak_gflops(gemm, device=device, dtype=torch.bfloat16)
    device_name = torch.cuda.get_device_name() if device == "cuda" else (hardware()["cpu_model"] or "cpu")
    rows = core_runs(device, precisions, steps, ("lora",) if args.quick else CORE, peaks) + deberta(device, steps, args.quick, peaks["bf16"])
    record = {"date": date.today().isoformat(), "device": device_name, "gemm_peak_gflops": peaks, "rows": rows,
              "provenance": {"git": git_state(ROOT), "packages": package_versions(), "hardware": hardware()}}
    out = Path(args.out)
    out.mkdir(parents=True, exist_ok=True)
    slug = "".join(c if c.isalnum() else "-" for c in device_name.lower()).strip("-")
    path = out / f"{record['date']}-{slug}.json"
    path.write_text(json.dumps(record, indent=2, sort_keys=True) + "\n")
    print(table(rows, device_name))
    print(f"written: {path}")


if __name__ == "__main__":
    main()
