"""Same seed -> same metrics on CPU; a different seed really changes the run."""

import pytest

from harness.config import parse_params
from harness.stages import evaluate, prepare, train
from tests.conftest import set_runs


@pytest.mark.parametrize("run", ["lora", "adalora"])
def test_same_seed_same_metrics(workspace, tiny_raw, run):
    set_runs(tiny_raw, {run: tiny_raw["train"][run]})
    params = parse_params(tiny_raw)
    prepare.run(params)

    def once():
        t = train.run(params, run)
        e = evaluate.run(params, run)
        return t["seeds"]["0"]["loss_curve"], e["seeds"]["0"]["metrics"]

    first, second = once(), once()
    assert first == second

    tiny_raw["seeds"] = [1]
    other = parse_params(tiny_raw)
    assert train.run(other, run)["seeds"]["1"]["loss_curve"] != first[0]
