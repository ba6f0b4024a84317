"""The analytic memory model against what a training step of MiniLM actually holds: the activations autograd
keeps for the backward pass, and the step's peak tensor memory."""

import pytest
import torch

from harness.core.config import parse_params
from harness.memory import activation_bytes, activation_probe, saved_for_backward, step_peak_bytes, training_bytes, training_step
from harness.recommend import Workload, estimate, model_config

BATCH, SEQ = 8, 64


@pytest.mark.parametrize("run", ["full", "lora"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_activation_model_is_within_25_percent_of_what_autograd_keeps(run, checkpointing, tiny_raw):
    model, base, batch = activation_probe(parse_params(tiny_raw), run, checkpointing=checkpointing, batch=BATCH, seq_len=SEQ)
    measured = saved_for_backward(model, batch)
    predicted = activation_bytes(base.config, batch=BATCH, seq_len=SEQ, bytes_per_value=4, checkpointing=checkpointing)["saved"]
    assert measured == pytest.approx(predicted, rel=0.25), f"measured {measured / 2**20:.1f} MB, model {predicted / 2**20:.1f} MB"


@pytest.mark.parametrize("run", ["full", "lora"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_memory_model_is_within_25_percent_of_a_training_steps_peak(run, checkpointing, tiny_raw):
    """Weights, gradients, AdamW states and activations, counted in fp32, against the peak tensor memory of one
    AdamW step (after a first one has allocated the states), as torch's MemTracker measures it on the CPU."""
    model, base, batch = activation_probe(parse_params(tiny_raw), run, checkpointing=checkpointing, batch=BATCH, seq_len=SEQ)
    trainable = [p for p in model.parameters() if p.requires_grad]
    optimizer = torch.optim.AdamW(trainable, lr=1e-4)
    training_step(model, batch, optimizer)
    peak = step_peak_bytes(model, optimizer, batch)
    states = training_bytes(sum(p.numel() for p in model.parameters()), sum(p.numel() for p in trainable), base_bits=32, bytes_per_value=4)
    predicted = states["total"] + activation_bytes(base.config, batch=BATCH, seq_len=SEQ, bytes_per_value=4, checkpointing=checkpointing)["total"]
    assert peak["Total"] == pytest.approx(predicted, rel=0.25), f"measured {peak}, model {predicted / 2**20:.1f} MB"


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
