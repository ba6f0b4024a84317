"""Same seed -> same metrics in two fresh processes, as DVC runs each stage; a different seed -> a different
adapter initialisation and a different run."""

import os
import subprocess
import sys

import torch

from harness.core.config import parse_params
from harness.core.io import read_json
from harness.core.registry import METHODS
from harness.core.seeding import seed_everything
from harness.models import load_classifier
from tests.conftest import set_runs, write_params


def harness(cwd, *args):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "harness.core.cli", *args], cwd=cwd, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]


def run_lora(workspace, tiny_raw, seed: int):
    tiny_raw["seeds"] = [seed]
    write_params(workspace, tiny_raw)
    harness(workspace, "tune", "lora")
    harness(workspace, "train", "lora")
    harness(workspace, "evaluate", "lora")
    train = read_json(workspace / "results" / "train" / "lora.json")["seeds"][str(seed)]
    return train["loss_curve"], read_json(workspace / "results" / "eval" / "lora.json")["seeds"][str(seed)]["metrics"]


def test_same_seed_same_metrics_in_fresh_processes(workspace, tiny_raw):
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    write_params(workspace, tiny_raw)
    harness(workspace, "prepare")
    first = run_lora(workspace, tiny_raw, 0)
    assert run_lora(workspace, tiny_raw, 0) == first
    assert run_lora(workspace, tiny_raw, 1)[0] != first[0]


def test_the_seed_sets_the_adapter_initialisation(tiny_raw):
    params = parse_params(tiny_raw)
    method, cfg = METHODS.get("lora")(), params.train["lora"]

    def lora_a(seed):
        seed_everything(seed)
        model = method.prepare(load_classifier(params.model.name, 2), cfg, total_steps=4)
        return torch.cat([p.detach().flatten() for n, p in model.named_parameters() if "lora_A" in n])

    assert torch.equal(lora_a(0), lora_a(0))
    assert not torch.equal(lora_a(0), lora_a(1))
