"""Stage ``paperscale``: exact parameter counts, checkpoint sizes and analytic memory at paper scale.

Builds each published architecture from its config (``experiments/paperscale.yaml``) on the meta
device — shapes without storage, so GPT-3 175B costs no memory and nothing is downloaded — applies
the method through the same registered ``Method.prepare`` the pipeline trains with, and counts.
Writes ``results/paperscale.json`` (one entry per name, plus its provenance).
"""

from __future__ import annotations

import logging
from typing import Any

import torch
from transformers import AutoConfig, AutoModel

from harness.core.errors import HarnessError
from harness.core.io import load_yaml, write_json
from harness.core.paths import PAPERSCALE, PAPERSCALE_SPEC
from harness.core.provenance import record
from harness.core.registry import METHODS
from harness.core.schema import validate
from harness.costs.memory_model import NF4_BITS, quant_constant_bits, training_bytes
from harness.methods.adalora import final_adapter_params
from harness.methods.base import total_parameters, trainable_parameters

log = logging.getLogger("harness.paperscale")


def build(arch: dict[str, Any]):
    arch = dict(arch)
    config = AutoConfig.for_model(arch.pop("model_type"), **arch)
    with torch.device("meta"):
        return AutoModel.from_config(config)


def count(arch: dict[str, Any], method_raw: dict[str, Any], where: str) -> dict[str, Any]:
    """Counts for the body of the model (no task head: the papers count adapters, not heads)."""
    if "method" not in method_raw:
        raise HarnessError(f"{where}.method: required key is missing; known: {', '.join(METHODS.names())}")
    method = METHODS.get(method_raw["method"])()
    cfg = validate(method.Config, method_raw, where)
    model = build(arch)
    base = total_parameters(model)
    model = method.prepare(model, cfg, total_steps=1000)
    for name, param in model.named_parameters():
        if ".ranknum." in name:  # peft re-wraps AdaLoRA's rank counter as a new, trainable Parameter when it moves
            param.requires_grad_(False)  # it to the meta device; on a real device it is frozen and never trains
    trainable, total = trainable_parameters(model), total_parameters(model)
    out = {
        "base_params": base,
        "trainable_params": trainable,
        "base_over_trainable": base / trainable,
        "checkpoint_bytes_fp16": 2 * trainable,
        "checkpoint_mb_fp16": 2 * trainable / 1e6,
        "train_memory_gb_16bit": training_bytes(total, trainable)["total"] / 1e9,
    }
    if method.name == "adalora":
        ranks = {n.removeprefix("base_model.model."): cfg.target_r for n, m in model.named_modules() if hasattr(m, "lora_E") and "default" in getattr(m, "lora_E", {})}
        out["final_budget_triplets"] = sum(ranks.values())
        out["final_budget_params_uniform"] = final_adapter_params(model, ranks)
    if trainable < total:  # a frozen base exists to quantize (QLoRA)
        out["train_memory_gb_nf4_dq"] = training_bytes(total, trainable, base_bits=NF4_BITS + quant_constant_bits(True))["total"] / 1e9
    return out


def run(spec: dict[str, Any]) -> dict[str, Any]:
    archs = spec.get("architectures", {})
    results: dict[str, Any] = {}
    for name, entry in spec.get("entries", {}).items():
        where = f"{PAPERSCALE_SPEC}: entries.{name}"
        if entry.get("architecture") not in archs:
            raise HarnessError(f"{where}.architecture: unknown {entry.get('architecture')!r}; known: {', '.join(archs)}")
        results[name] = count(archs[entry["architecture"]], entry.get("method", {}), f"{where}.method")
        log.info("paperscale %s: %s trainable of %s", name, f"{results[name]['trainable_params']:,}", f"{results[name]['base_params']:,}")
    results["quantization"] = {
        "constant_bits_per_param_plain": quant_constant_bits(False),
        "constant_bits_per_param_double_quant": quant_constant_bits(True),
        "double_quant_saving_bits_per_param": quant_constant_bits(False) - quant_constant_bits(True),
        "double_quant_saving_gb_at_65b": (quant_constant_bits(False) - quant_constant_bits(True)) * results.get("llama-65b.full", {}).get("base_params", 65e9) / 8 / 1e9,
    }
    return results


def main(argv: list[str]) -> None:
    if not PAPERSCALE_SPEC.is_file():
        raise HarnessError(f"{PAPERSCALE_SPEC}: not found")
    write_json(PAPERSCALE, {**run(load_yaml(PAPERSCALE_SPEC.read_text())), "provenance": record()})
