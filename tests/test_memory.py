"""The analytic activation count against what autograd actually keeps for the backward pass of MiniLM."""

import pytest
import torch

from harness.core.config import parse_params
from harness.core.registry import METHODS
from harness.memory import activation_bytes
from harness.recommend import Workload, estimate, model_config

BATCH, SEQ = 8, 64


def saved_for_backward(model, batch) -> int:
    """Bytes of the tensors autograd saved during one forward pass (each storage once, parameters excluded)."""
    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(**batch)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(size for ptr, size in storages.items() if ptr not in weights)


@pytest.mark.parametrize("run", ["full", "lora"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_activation_model_is_within_25_percent_of_what_autograd_keeps(run, checkpointing, tiny_raw):
    params = parse_params(tiny_raw)
    method, cfg = METHODS.get(params.train[run].method)(), params.train[run]
    torch.manual_seed(0)
    model = method.prepare(method.base_model(params.model, 2, cfg), cfg, total_steps=4).train()
    base = model if run == "full" else model.base_model.model
    if checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    batch = {"input_ids": torch.randint(1000, 2000, (BATCH, SEQ)), "attention_mask": torch.ones(BATCH, SEQ, dtype=torch.long),
             "labels": torch.zeros(BATCH, dtype=torch.long)}
    measured = saved_for_backward(model, batch)
    predicted = activation_bytes(base.config, batch=BATCH, seq_len=SEQ, bytes_per_value=4, checkpointing=checkpointing)["saved"]
    print(f"{run} checkpointing={checkpointing}: measured {measured / 2**20:.2f} MB, model {predicted / 2**20:.2f} MB")
    assert measured == pytest.approx(predicted, rel=0.25), f"measured {measured / 2**20:.1f} MB, model {predicted / 2**20:.1f} MB"


def test_activations_scale_with_the_step_and_shrink_with_checkpointing():
    config = model_config("roberta-large")
    one = activation_bytes(config, batch=16, seq_len=128, bytes_per_value=2)
    assert activation_bytes(config, batch=32, seq_len=128, bytes_per_value=2)["total"] == pytest.approx(2 * one["total"])
    assert activation_bytes(config, batch=16, seq_len=128, bytes_per_value=4)["total"] > 1.9 * one["total"]
    assert activation_bytes(config, batch=16, seq_len=128, bytes_per_value=2, checkpointing=True)["total"] < one["total"] / 5


def test_recommend_no_longer_fits_full_fine_tuning_of_roberta_large_in_its_weight_states(tiny_raw):
    """Weights, gradients and AdamW states of RoBERTa-large are 4.26 GB; a step of 16 x 128 tokens in bf16
    adds ~2.2 GB of activations, which gradient checkpointing cuts to a fraction."""
    params = parse_params(tiny_raw)
    config = model_config("roberta-large")
    full = estimate(config, "full", params.train["full"])
    assert full["gb"] - full["activations_gb"] == pytest.approx(4.26, abs=0.01)
    assert 1.5 < full["activations_gb"] < 3.0
    light = estimate(config, "full", params.train["full"], Workload(gradient_checkpointing=True))
    assert light["activations_gb"] < full["activations_gb"] / 5
