"""``harness recommend --memory-gb G --model M``: which adaptation methods fit a memory budget, best first.

For the target model (an architecture of ``experiments/paperscale.yaml``, or any name ``model.name``
accepts: ``embedded:...``, a local directory, a hub id when online) the model is built from its config on
the meta device and every atlas run's method is applied through the same ``Method.prepare`` the pipeline
trains with, so trainable counts are exact. Memory is the analytic model of ``harness/costs/memory_model.py``
(16-bit weights, or NF4 + double quantisation for QLoRA; gradients and AdamW states of what trains;
the activations of one step at ``--batch-size`` x ``--seq-len`` in ``--precision``, with or without
``--gradient-checkpointing``). Quality is what ``results/atlas.json`` measured at smoke scale (gap to full
fine-tuning, paired by seed). Each line says which file backs it.
"""

from __future__ import annotations

import argparse
import dataclasses
from typing import Any

import torch
from transformers import AutoConfig, AutoModel

from harness.core.config import load_params
from harness.core.errors import HarnessError, first_line
from harness.core.io import load_yaml, read_json
from harness.core.paths import ATLAS, PAPERSCALE_SPEC
from harness.core.registry import METHODS
from harness.costs.memory_model import NF4_BITS, activation_bytes, quant_constant_bits, training_bytes
from harness.engine.models import resolve
from harness.methods.base import total_parameters, trainable_parameters

QUANTIZED_BASE_BITS = {"qlora": NF4_BITS + quant_constant_bits(True)}


def model_config(name: str):
    archs = load_yaml(PAPERSCALE_SPEC.read_text()).get("architectures", {}) if PAPERSCALE_SPEC.is_file() else {}
    if name in archs:
        arch = dict(archs[name])
        return AutoConfig.for_model(arch.pop("model_type"), **arch)
    try:
        return AutoConfig.from_pretrained(resolve(name))
    except (OSError, ValueError) as err:
        known = ", ".join(archs) or "none"
        raise HarnessError(f"--model: cannot load a config for {name!r} ({first_line(err)}); built-in architectures: {known}") from None


@dataclasses.dataclass(frozen=True)
class Workload:
    """The step whose activations count: examples a device holds, their length, bytes a value, checkpointing."""

    batch_size: int = 16
    seq_len: int = 128
    precision: str = "bf16"
    gradient_checkpointing: bool = False

    def activations(self, config) -> float:
        bytes_per_value = 4 if self.precision == "fp32" else 2
        return activation_bytes(config, batch=self.batch_size, seq_len=self.seq_len, bytes_per_value=bytes_per_value,
                                checkpointing=self.gradient_checkpointing)["total"]

    def describe(self) -> str:
        return (f"batch {self.batch_size} x {self.seq_len} tokens in {self.precision}"
                + (", gradient checkpointing" if self.gradient_checkpointing else ""))


def estimate(config, method_name: str, cfg: Any, workload: Workload = Workload()) -> dict[str, float]:
    """Exact trainable count on the meta-device model; analytic training memory in GB (weights, gradients,
    optimizer states and the activations of one step of ``workload``)."""
    with torch.device("meta"):
        model = AutoModel.from_config(config)
    method = METHODS.get(method_name)()
    model = method.prepare(model, cfg, total_steps=1000)
    trainable, total = trainable_parameters(model), total_parameters(model)
    if not method.trains:  # retrieval: inference only, the index is extra and data-dependent
        return {"trainable": 0, "total": total, "gb": total * 2 / 1e9}
    bits = QUANTIZED_BASE_BITS.get(method_name, 16.0)
    activations = workload.activations(config)
    states = training_bytes(total, trainable, base_bits=bits)["total"]
    return {"trainable": trainable, "total": total, "gb": (states + activations) / 1e9, "activations_gb": activations / 1e9}


def recommend(memory_gb: float, model: str, atlas: dict[str, Any], params, workload: Workload = Workload()) -> list[dict[str, Any]]:
    config = model_config(model)
    ref = atlas["runs"][atlas["reference"]]["score"]["mean"]
    rows = []
    for run, measured in atlas["runs"].items():
        if run not in params.train:
            continue
        cfg = params.train[run]
        est = estimate(config, cfg.method, cfg, workload)
        rows.append({
            "run": run,
            "method": cfg.method,
            "fits": est["gb"] <= memory_gb,
            "memory_gb": est["gb"],
            "trainable": est["trainable"],
            "quality_gap": measured["score"]["mean"] - ref,
            "quality": measured["score"],
        })
    return sorted(rows, key=lambda r: (not r["fits"], -r["quality_gap"], r["memory_gb"]))


def render(rows: list[dict[str, Any]], memory_gb: float, model: str, atlas: dict[str, Any], workload: Workload = Workload()) -> str:
    lines = [
        f"Methods for {model} within {memory_gb:g} GB (weights + gradients + AdamW states + activations of a step at "
        f"{workload.describe()}), "
        f"best measured quality first. Quality: {atlas['metric']} gap to full fine-tuning measured at profile "
        f"{atlas['profile']} on {atlas['model']} ({ATLAS}, per run results/eval/<run>.json).",
        "",
        "| rank | run | method | fits | est. memory GB (harness/costs/memory_model.py) | trainable params | measured quality gap (points) |",
        "|---|---|---|---|---|---|---|",
    ]
    for i, r in enumerate(rows, 1):
        lines.append(
            f"| {i if r['fits'] else '—'} | {r['run']} | {r['method']} | {'yes' if r['fits'] else 'no'} | {r['memory_gb']:.2f} | "
            f"{r['trainable']:,} | {r['quality_gap']:+.2f} |"
        )
    return "\n".join(lines)


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="harness recommend", description=__doc__.splitlines()[0])
    parser.add_argument("--memory-gb", type=float, required=True, help="memory budget of the device, GB")
    parser.add_argument("--model", required=True, help="architecture of experiments/paperscale.yaml, embedded:<name>, a local dir or a hub id")
    parser.add_argument("--batch-size", type=int, default=Workload.batch_size, help="examples per device and step (default %(default)s)")
    parser.add_argument("--seq-len", type=int, default=Workload.seq_len, help="tokens per example (default %(default)s)")
    parser.add_argument("--precision", choices=["bf16", "fp16", "fp32"], default=Workload.precision, help="activation precision (default %(default)s)")
    parser.add_argument("--gradient-checkpointing", action="store_true", help="keep only each layer's input, recompute the rest")
    args = parser.parse_args(argv)
    if args.memory_gb <= 0:
        raise HarnessError(f"--memory-gb: must be positive (got {args.memory_gb})")
    for flag, value in (("--batch-size", args.batch_size), ("--seq-len", args.seq_len)):
        if value <= 0:
            raise HarnessError(f"{flag}: must be a positive integer (got {value})")
    workload = Workload(args.batch_size, args.seq_len, args.precision, args.gradient_checkpointing)
    if not ATLAS.is_file():
        raise HarnessError(f"{ATLAS}: not found; run the pipeline first (dvc repro atlas)")
    atlas = read_json(ATLAS)
    print(render(recommend(args.memory_gb, args.model, atlas, load_params(), workload), args.memory_gb, args.model, atlas, workload))
