"""The analytic memory model against what a training step of MiniLM actually holds: the activations autograd
keeps for the backward pass, and the step's peak tensor memory."""

from types import SimpleNamespace

import pytest
import torch

from harness.core.config import parse_params
from harness.costs.memory_model import (
    activation_bytes,
    activation_probe,
    quant_constant_bits,
    saved_for_backward,
    step_peak_bytes,
    training_bytes,
    training_step,
)
from harness.costs.recommend import Workload, estimate, model_config

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
    # kind by kind: every weight exactly, and at least the two AdamW moments per trainable one (with LoRA the peak
    # falls in the forward pass and holds exactly those; full fine-tuning's falls in the optimizer's step, beside
    # its scratch)
    assert peak["Parameter"] == sum(p.numel() for p in model.parameters()) * 4
    assert peak["Optstate"] >= states["optimizer"]
    if run == "lora":  # the last step's gradients were freed, not zeroed: at the peak (the end of the forward pass,
        # or the first layers of the backward: the head's gradient, 3 KB) almost none is held
        assert peak["Gradient"] < states["grads"] / 10


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


@pytest.mark.parametrize("double_quant", [False, True])
def test_the_state_count_is_the_stated_arithmetic(double_quant):
    """Frozen weights at their bits, trainable ones, their gradients in 16-bit and two fp32 Adam moments; QLoRA's
    quantisation constants are one fp32 absmax per 64 weights, or with double quantisation 8 bits per block plus one
    fp32 constant per 256 blocks (Dettmers et al. 2023, section 3: 0.5 and 0.127 bits per parameter)."""
    assert training_bytes(1000, 10) == {"weights": 990 * 2 + 10 * 2, "grads": 20, "optimizer": 80, "total": 2000 + 20 + 80}
    nf4 = training_bytes(1000, 10, base_bits=4.5, bytes_per_value=4)
    assert nf4 == {"weights": 990 * 4.5 / 8 + 40, "grads": 40, "optimizer": 80, "total": 990 * 4.5 / 8 + 160}
    assert quant_constant_bits(double_quant) == pytest.approx(0.127 if double_quant else 0.5, abs=5e-4)
    assert quant_constant_bits(double_quant) == (8 / 64 + 32 / (64 * 256) if double_quant else 32 / 64)


def test_activations_are_korthikantis_count():
    """In 16-bit with a 4h MLP each layer keeps sbh(34 + 5as/h) bytes (Korthikanti et al. 2022, section 4.1), the
    embeddings sbh(p + 1) and the head sbhp; with checkpointing each layer keeps its input (sbhp) and one layer is
    rebuilt at a time."""
    s, b, h, a, layers = 16, 3, 48, 4, 5
    config = SimpleNamespace(hidden_size=h, num_hidden_layers=layers, num_attention_heads=a)  # no MLP width: 4h
    sbh, layer = s * b * h, s * b * h * (34 + 5 * a * s / h)
    kept = activation_bytes(config, batch=b, seq_len=s, bytes_per_value=2)
    assert kept == {"saved": sbh * 3 + layers * layer + sbh * 2, "recompute": 0, "total": sbh * 3 + layers * layer + sbh * 2}
    light = activation_bytes(config, batch=b, seq_len=s, bytes_per_value=2, checkpointing=True)
    assert light == {"saved": sbh * 3 + layers * sbh * 2 + sbh * 2, "recompute": layer, "total": sbh * 5 + layers * sbh * 2 + layer}
    # in fp32 (p = 4): sbh(8p + 2) + 2sbIp + as^2b(2p + 1) per layer
    fp32 = activation_bytes(config, batch=b, seq_len=s, bytes_per_value=4)["saved"]
    assert fp32 == sbh * 5 + layers * (sbh * 34 + 2 * s * b * 4 * h * 4 + a * s * s * b * 9) + sbh * 4


@pytest.mark.parametrize("width", [{"intermediate_size": 96}, {"n_inner": 96}, {"intermediate_size": None, "n_inner": 96}])
def test_the_mlp_width_is_read_under_either_name(width):
    """BERT's configs name the MLP width ``intermediate_size``, GPT-2's ``n_inner`` (None there means 4h)."""
    s, b, h, a = 16, 3, 48, 4
    config = SimpleNamespace(hidden_size=h, num_hidden_layers=1, num_attention_heads=a, **width)
    layer = s * b * h * 18 + 2 * s * b * 96 * 2 + a * s * s * b * 5
    assert activation_bytes(config, batch=b, seq_len=s, bytes_per_value=2)["saved"] == s * b * h * 5 + layer

