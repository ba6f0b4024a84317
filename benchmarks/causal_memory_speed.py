"""LoRA vs QLoRA vs full fine-tuning of a GPT-2-architecture model built from config: training tokens/s
and peak memory, measured in one process so the ratios share the machine's state.

    python benchmarks/causal_memory_speed.py --preset gpt2-medium --dtype bfloat16 --seq 512 --batch 8   # a GPU
    python benchmarks/causal_memory_speed.py --preset tiny --steps 4                                    # CPU check

Weights do not change speed or memory, so the model is built from its architecture (no download). LoRA
is Table 11's (r=4, alpha 32 on c_attn); QLoRA is the same adapter on an NF4 + double-quantised base
(bitsandbytes, via a from_pretrained of the saved random model); full trains every weight with AdamW.
Memory: CUDA max allocated on a GPU (exact), peak RSS growth on a CPU. The LoRA paper's claims this
speaks to: "25% faster training than full fine-tuning" (GPT-3, §4.2) and QLoRA's memory saving.
Methods run one after another, ``--rounds`` times in alternation; the median round is reported.
MFU: the FLOPs of one forward and backward pass as run, counted by torch's FlopCounterMode (the optimizer step
is not counted; LoRA and QLoRA skip the frozen weights' gradient GEMMs, so theirs is about 2/3 of full's), per
second of a step, over this device's measured GEMM peak in the run's dtype
(``gemm_peak.py``; on an H100 the datasheet's dense bf16 figure is 989 TFLOP/s, and a measured peak is lower).
The loop is a plain one (``benchmarks/loop_overhead.py`` measures what the harness's Trainer loop adds to it).
"""

from __future__ import annotations

import argparse
import json
import statistics
import tempfile
import time
from pathlib import Path

import torch
from gemm_peak import gemm_peak_gflops, step_flops  # benchmarks/gemm_peak.py (scripts run from benchmarks/)
from transformers import (
    AutoModelForCausalLM,
    BitsAndBytesConfig,
    GPT2Config,
    GPT2LMHeadModel,
)

from harness.core.provenance import hardware, package_versions
from harness.engine.models import DTYPES
from harness.engine.resources import PeakMemory
from harness.methods.qlora import keep_training_layout

PRESETS = {  # GPT-2's published architectures (and a toy one for a CPU check)
    "tiny": {"n_layer": 2, "n_embd": 64, "n_head": 2},
    "gpt2": {"n_layer": 12, "n_embd": 768, "n_head": 12},
    "gpt2-medium": {"n_layer": 24, "n_embd": 1024, "n_head": 16},
    "gpt2-large": {"n_layer": 36, "n_embd": 1280, "n_head": 20},
}


def build(preset: str, seq: int, dtype: torch.dtype, quantized: bool, device: torch.device, scratch: Path):
    config = GPT2Config(n_positions=max(1024, seq), vocab_size=50257, **PRESETS[preset])
    if not quantized:
        torch.manual_seed(0)
        return GPT2LMHeadModel(config).to(device=device, dtype=dtype)
    path = scratch / preset
    if not path.is_dir():
        torch.manual_seed(0)
        GPT2LMHeadModel(config).save_pretrained(path)
    quant = BitsAndBytesConfig(load_in_4bit=True, bnb_4bit_quant_type="nf4", bnb_4bit_use_double_quant=True,
                               bnb_4bit_compute_dtype=dtype, llm_int8_skip_modules=["lm_head"])
    return AutoModelForCausalLM.from_pretrained(path, quantization_config=quant, dtype=dtype, device_map={"": device.index or 0} if device.type == "cuda" else "cpu")


def prepare(model, method: str):
    from peft import (
        LoraConfig,
        TaskType,
        get_peft_model,
        prepare_model_for_kbit_training,
    )

    if method == "full":
        return model
    if method == "qlora":
        keep_training_layout(model)  # the bitsandbytes CPU-kernel quirk harness/methods/qlora.py works around
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
    return get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, lora_alpha=32, target_modules=["c_attn"]))


def measure(args, method: str, device: torch.device, scratch: Path) -> dict:
    dtype = DTYPES[args.dtype]
    if device.type == "cuda":
        torch.cuda.empty_cache()
    with PeakMemory(device) as mem:
        model = prepare(build(args.preset, args.seq, dtype, method == "qlora", device, scratch), method).train()
        params = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(params, lr=1e-4)
        generator = torch.Generator().manual_seed(0)
        batch = torch.randint(0, 50257, (args.batch, args.seq), generator=generator).to(device)
        flops = step_flops(model, {"input_ids": batch, "labels": batch})
        times = []
        for step in range(args.warmup + args.steps):
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            start = time.perf_counter()
            loss = model(input_ids=batch, labels=batch).loss
            loss.backward()
            optimizer.step()
            optimizer.zero_grad(set_to_none=True)
            if device.type == "cuda":
                torch.cuda.synchronize(device)
            if step >= args.warmup:
                times.append(time.perf_counter() - start)
    step_s = statistics.median(times)
    memory = mem.as_dict()
    return {
        "trainable_params": sum(p.numel() for p in params),
        "tokens_per_s": args.batch * args.seq / step_s,
        "step_s": step_s,
        "flops_per_step": flops,
        "peak_mb": memory.get("cuda_max_allocated_mb") if device.type == "cuda" else memory["peak_rss_delta_mb"],
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--preset", choices=sorted(PRESETS), default="gpt2-medium")
    parser.add_argument("--dtype", choices=sorted(DTYPES), default="bfloat16")
    parser.add_argument("--seq", type=int, default=512)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--steps", type=int, default=10)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--rounds", type=int, default=1)
    parser.add_argument("--methods", default="lora,qlora,full")
    parser.add_argument("--out", type=Path, help="also write the figures as JSON here")
    args = parser.parse_args()
    device = torch.device("cuda" if torch.cuda.is_available() else "cpu")
    methods = args.methods.split(",")
    rounds: dict[str, list[dict]] = {m: [] for m in methods}
    with tempfile.TemporaryDirectory() as scratch:
        for _ in range(args.rounds):
            for m in methods:
                rounds[m].append(measure(args, m, device, Path(scratch)))
    result = {m: sorted(r, key=lambda x: x["step_s"])[len(r) // 2] for m, r in rounds.items()}  # median round
    peak = gemm_peak_gflops(8192 if device.type == "cuda" else 2048, device=str(device), dtype=DTYPES[args.dtype])
    for r in result.values():
        r["mfu"] = r["flops_per_step"] / r["step_s"] / 1e9 / peak
    unit = "CUDA max allocated MB" if device.type == "cuda" else "peak RSS growth MB"
    print(f"{args.preset} {args.dtype} seq {args.seq} batch {args.batch} on {hardware()['cuda'] or 'CPU'} ({unit}); "
          f"measured {args.dtype} GEMM peak {peak:.0f} GFLOP/s")
    print("| method | trainable | tokens/s | x full | MFU | peak MB | x full |")
    print("|---|---|---|---|---|---|---|")
    full = result.get("full")
    for m, r in result.items():
        speed = f"{r['tokens_per_s'] / full['tokens_per_s']:.2f}" if full else "—"
        memory = f"{r['peak_mb'] / full['peak_mb']:.2f}" if full and full["peak_mb"] else "—"
        print(f"| {m} | {r['trainable_params']:,} | {r['tokens_per_s']:.0f} | {speed} | {100 * r['mfu']:.0f}% | {r['peak_mb']:.0f} | {memory} |")
    if args.out:
        args.out.parent.mkdir(parents=True, exist_ok=True)
        args.out.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "device": hardware(), "gemm_peak_gflops": peak,
                                        "packages": package_versions(), "results": result}, indent=2))


if __name__ == "__main__":
    main()
