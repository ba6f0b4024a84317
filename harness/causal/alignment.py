"""SFT, then DPO from the SFT model, through trl's ``SFTTrainer`` and ``DPOTrainer``; and what the atlas's
"SFT / RLHF / DPO" row measures of each phase.

The method registry still defines the adapter: the model a trainer gets is ``method.prepare``'s (a peft
model for LoRA, the whole model for full fine-tuning) with ``method.optimizer``'s optimizer, so the SFT phase
is the causal run it names, trained by trl instead of the harness loop. DPO then continues that model:
for an adapter trl keeps a frozen copy of it as the reference ("ref" adapter), for full fine-tuning the
reference is a frozen copy of the SFT model, built inside the measured block (it is what DPO costs).

Quality is read three ways on held-out meaning representations: the policy's preference accuracy (summed
log-probability of the chosen response above the rejected one's: defined for SFT and DPO alike, unlike
trl's implicit reward, which is zero for the SFT model), the attribute judge on greedy outputs (coverage,
contradiction rate) and BLEU of those outputs against the references.
"""

from __future__ import annotations

import copy
import tempfile
import time
from typing import Any

import torch

from harness.causal.preference import judge, parse_mr
from harness.core.config import LoopConfig
from harness.core.registry import GENERATION_METRICS
from harness.engine.resources import PeakMemory, tensor_bytes


def trainer_settings(loop: LoopConfig, *, steps: int, batch_size: int, lr: float, seed: int, max_length: int, device: torch.device) -> dict[str, Any]:
    """The settings SFTConfig and DPOConfig share, from the causal track's loop (same schedule, clipping,
    weight decay as the harness loop); trl saves and reports nothing itself (the stage writes the results)."""
    return {
        "max_steps": steps, "per_device_train_batch_size": batch_size, "per_device_eval_batch_size": batch_size,
        "learning_rate": lr, "weight_decay": loop.weight_decay, "warmup_steps": int(loop.warmup_ratio * steps),
        "lr_scheduler_type": loop.scheduler, "max_grad_norm": loop.max_grad_norm, "seed": seed, "data_seed": seed,
        "logging_steps": min(10, steps), "save_strategy": "no", "report_to": [], "disable_tqdm": True,
        "use_cpu": device.type == "cpu", "dataloader_num_workers": 0, "max_length": max_length,
    }


def sft(model, method, cfg, tokenizer, pairs: list[tuple[str, str]], settings: dict[str, Any], device: torch.device):
    """Supervised fine-tuning on (context, completion) pairs, the loss on the completion only (trl's
    prompt-completion format, as the harness loop does). Returns the trained model and the phase's figures."""
    from datasets import Dataset
    from trl import SFTConfig, SFTTrainer

    data = Dataset.from_list([{"prompt": c, "completion": t} for c, t in pairs])
    optimizer = method.optimizer(model, cfg, lr=settings["learning_rate"], weight_decay=settings["weight_decay"])
    with PeakMemory(device) as mem, tempfile.TemporaryDirectory(prefix="sft-") as scratch:
        trainer = SFTTrainer(model=model, args=SFTConfig(output_dir=scratch, **settings), train_dataset=data, processing_class=tokenizer,
                             optimizers=(optimizer, None))
        figures = _train(trainer)
    return trainer.model, {**figures, **_memory(trainer.model, mem)}


def dpo(model, tokenizer, train_pairs: list[dict[str, str]], test_pairs: list[dict[str, str]], settings: dict[str, Any], beta: float, device: torch.device):
    """DPO from the SFT model. Returns the policy, the phase's figures and trl's own evaluation on the held-out
    pairs (reward accuracy and margin: the implicit reward against the frozen SFT reference)."""
    from datasets import Dataset
    from peft import PeftModel
    from trl import DPOConfig, DPOTrainer

    columns = ("prompt", "chosen", "rejected")
    train = Dataset.from_list([{k: p[k] for k in columns} for p in train_pairs])
    test = Dataset.from_list([{k: p[k] for k in columns} for p in test_pairs])
    with PeakMemory(device) as mem, tempfile.TemporaryDirectory(prefix="dpo-") as scratch:
        reference = None if isinstance(model, PeftModel) else copy.deepcopy(model).eval()
        trainer = DPOTrainer(model=model, ref_model=reference, args=DPOConfig(output_dir=scratch, **settings, beta=beta), train_dataset=train,
                             eval_dataset=test, processing_class=tokenizer)
        figures = _train(trainer)
        scores = trainer.evaluate()
    policy = trainer.model
    if isinstance(policy, PeftModel) and "ref" in policy.peft_config:
        policy.delete_adapter("ref")  # trl's frozen copy: the reference, not part of the trained artefact
    trl_eval = {"reward_accuracy": 100.0 * scores["eval_rewards/accuracies"], "reward_margin": scores["eval_rewards/margins"]}
    return policy, {**figures, **_memory(policy, mem)}, trl_eval


def _train(trainer) -> dict[str, Any]:
    from transformers import PrinterCallback

    trainer.remove_callback(PrinterCallback)  # the log dicts trl prints without tqdm: the stage logs its own lines
    start, cpu_start = time.perf_counter(), time.process_time()
    trainer.train()
    seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    logs = trainer.state.log_history
    curve = [(entry["step"], entry["loss"]) for entry in logs if "loss" in entry]
    tokens = max((entry["num_tokens"] for entry in logs if "num_tokens" in entry), default=0)
    return {"steps": trainer.state.global_step, "train_seconds": seconds, "train_cpu_seconds": cpu_seconds,
            "train_tokens": int(tokens), "tokens_per_s": tokens / seconds, "final_loss": curve[-1][1], "loss_curve": curve}


def _memory(model, mem: PeakMemory) -> dict[str, Any]:
    """As the harness loop records it: training_mb = the policy's weights + what the phase allocated (for
    full-parameter DPO that includes the frozen reference copy)."""
    weights_mb = tensor_bytes(model) / 2**20
    figures = mem.as_dict()
    return {"memory": {**figures, "weights_mb": weights_mb, "training_mb": weights_mb + figures["peak_rss_delta_mb"]}}


@torch.no_grad()
def completion_logps(model, tokenizer, prompts: list[str], completions: list[str], batch_size: int, max_length: int, device: torch.device) -> list[float]:
    """Summed log-probability of each completion (plus end-of-text) after its prompt, tokenised as trl
    tokenises preference pairs (prompt and completion separately, then joined, cut at ``max_length``)."""
    model.eval()
    out = []
    for i in range(0, len(prompts), batch_size):
        seqs, starts = [], []
        for p, c in zip(prompts[i : i + batch_size], completions[i : i + batch_size]):
            head = tokenizer(p, add_special_tokens=False)["input_ids"]
            tail = tokenizer(c, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
            seqs.append((head + tail)[:max_length])
            starts.append(min(len(head), max_length))
        width = max(map(len, seqs))
        ids = torch.full((len(seqs), width), tokenizer.pad_token_id, dtype=torch.long)
        mask = torch.zeros_like(ids)
        for j, s in enumerate(seqs):
            ids[j, : len(s)] = torch.tensor(s)
            mask[j, : len(s)] = 1
        logits = model(input_ids=ids.to(device), attention_mask=mask.to(device)).logits.float().log_softmax(-1).cpu()
        for j, s in enumerate(seqs):
            targets = torch.tensor(s[starts[j] :])
            out.append(logits[j, starts[j] - 1 : len(s) - 1].gather(-1, targets[:, None]).sum().item())
    return out


@torch.no_grad()
def greedy(model, tokenizer, prompts: list[str], max_new_tokens: int, batch_size: int, max_length: int, device: torch.device) -> list[str]:
    """Greedy continuations, at most ``max_new_tokens`` and never past ``max_length`` positions in all."""
    model.eval()
    side, tokenizer.padding_side = tokenizer.padding_side, "left"
    texts = []
    try:
        for i in range(0, len(prompts), batch_size):
            batch = tokenizer(prompts[i : i + batch_size], return_tensors="pt", padding=True, add_special_tokens=False).to(device)
            room = max(1, min(max_new_tokens, max_length - batch["input_ids"].shape[1]))
            generated = model.generate(**batch, max_new_tokens=room, do_sample=False, num_beams=1,
                                       pad_token_id=tokenizer.pad_token_id, eos_token_id=tokenizer.eos_token_id)
            texts += [t.strip() for t in tokenizer.batch_decode(generated[:, batch["input_ids"].shape[1] :], skip_special_tokens=True)]
    finally:
        tokenizer.padding_side = side
    return texts


def assess(model, tokenizer, pairs: list[dict[str, str]], test_rows: list[dict[str, Any]], separator: str, max_new_tokens: int, batch_size: int,
           max_length: int, device: torch.device) -> dict[str, Any]:
    """One model's quality on held-out MRs: preference accuracy on the pairs, then the judge and BLEU on
    its greedy outputs (percentages, as the other generation metrics)."""
    prompts = [p["prompt"] for p in pairs]
    chosen = completion_logps(model, tokenizer, prompts, [p["chosen"] for p in pairs], batch_size, max_length, device)
    rejected = completion_logps(model, tokenizer, prompts, [p["rejected"] for p in pairs], batch_size, max_length, device)
    outputs = greedy(model, tokenizer, [r["mr"] + separator for r in test_rows], max_new_tokens, batch_size, max_length, device)
    judged = [judge(parse_mr(r["mr"]), text) for r, text in zip(test_rows, outputs)]
    return {
        "preference_accuracy": 100.0 * sum(c > r for c, r in zip(chosen, rejected)) / len(pairs),
        "logp_margin": sum(c - r for c, r in zip(chosen, rejected)) / len(pairs),
        "coverage": 100.0 * sum(j.coverage for j in judged) / len(judged),
        "contradiction_rate": 100.0 * sum(j.contradicted > 0 for j in judged) / len(judged),
        "complete": 100.0 * sum(j.covered == j.attributes and not j.contradicted for j in judged) / len(judged),
        "bleu": GENERATION_METRICS.get("bleu")().corpus(outputs, [r["refs"] for r in test_rows]),
        "n_pairs": len(pairs),
        "n_outputs": len(outputs),
        "examples": [{"mr": r["mr"], "output": t} for r, t in list(zip(test_rows, outputs))[:3]],
    }
