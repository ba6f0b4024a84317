"""The analytic activation count against what autograd actually keeps for the backward pass of MiniLM."""

import pytest

from harness.core.config import parse_params
from harness.memory import activation_bytes, activation_probe, saved_for_backward
from harness.recommend import Workload, estimate, model_config

BATCH, SEQ = 8, 64


@pytest.mark.parametrize("run", ["full", "lora"])
@pytest.mark.parametrize("checkpointing", [False, True])
def test_activation_model_is_within_25_percent_of_what_autograd_keeps(run, checkpointing, tiny_raw):
    model, base, batch = activation_probe(parse_params(tiny_raw), run, checkpointing=checkpointing, batch=BATCH, seq_len=SEQ)
    measured = saved_for_backward(model, batch)
    predicted = activation_bytes(base.config, batch=BATCH, seq_len=SEQ, bytes_per_value=4, checkpointing=checkpointing)["saved"]
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
