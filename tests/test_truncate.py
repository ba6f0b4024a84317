"""Rank truncation: truncating a rank-r update to r changes nothing; lower ranks are scored."""

import torch

from harness.core.config import parse_params
from harness.engine import lowrank
from harness.stages import evaluate, prepare, train, truncate, tune
from tests.conftest import set_runs


def test_truncation_to_full_rank_is_lossless(workspace, tiny_raw):
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    params = parse_params(tiny_raw)
    prepare.run(params)
    tune.run(params, "lora")
    train.run(params, "lora")
    full = evaluate.run(params, "lora")["seeds"]["0"]["metrics"]["accuracy"]
    curve = truncate.run(params, "lora")["seeds"]["0"]
    assert curve["max_rank"] == params.train["lora"].r
    assert curve["metric_at_k"][str(curve["max_rank"])] == full
    assert len(curve["metric_at_k"]) == curve["max_rank"]


def test_truncated_svd_is_exact_at_rank_and_optimal_below():
    torch.manual_seed(0)
    delta = torch.randn(64, 8) @ torch.randn(8, 48)
    assert torch.allclose(lowrank.truncated(delta, 8), delta, atol=1e-4)
    assert lowrank.ranks_of({"m": delta}) == 8
    s = torch.linalg.svdvals(delta.double())
    error = torch.linalg.matrix_norm((lowrank.truncated(delta, 3) - delta).double())
    assert torch.isclose(error, s[3:].norm(), rtol=1e-4)  # Eckart-Young: the tail of the spectrum
