"""Same seed -> same metrics in two fresh processes, as DVC runs each stage; a different seed -> a different
adapter initialisation and a different run."""

import os
import subprocess
import sys

import torch
import yaml

from harness.core.config import parse_params
from harness.core.io import read_json
from harness.core.registry import METHODS
from harness.core.seeding import seed_everything
from harness.engine.models import load_classifier
from tests.conftest import set_runs


def test_same_seed_same_metrics_in_fresh_processes(workspace, tiny_raw):
    """prepare, then tune, train and evaluate of LoRA at seed 0, again at seed 0, then at seed 1: every stage call
    in a process of its own, forked from the preload server as `make repro` runs them (which imported the libraries
    and ran no torch kernel)."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    for name, seed in (("a", 0), ("b", 0), ("c", 1)):
        tiny_raw["seeds"] = [seed]
        (workspace / f"params_{name}.yaml").write_text(yaml.safe_dump(tiny_raw, sort_keys=False))
    script = "set -e; harness prepare; " + " ".join(
        f"cp params_{n}.yaml params.yaml; harness tune lora; harness train lora; harness evaluate lora; "
        f"cp results/train/lora.json train_{n}.json; cp results/eval/lora.json eval_{n}.json;" for n in "abc")
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    proc = subprocess.run([sys.executable, "-m", "harness.core.cli", "preload", "--", "bash", "-c", script],
                          cwd=workspace, capture_output=True, text=True, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]

    def run(name: str, seed: int):
        train = read_json(workspace / f"train_{name}.json")["seeds"][str(seed)]
        return train["loss_curve"], read_json(workspace / f"eval_{name}.json")["seeds"][str(seed)]["metrics"]

    first = run("a", 0)
    assert run("b", 0) == first
    assert run("c", 1)[0] != first[0]


def test_the_seed_sets_the_adapter_initialisation(tiny_raw):
    params = parse_params(tiny_raw)
    method, cfg = METHODS.get("lora")(), params.train["lora"]

    def lora_a(seed):
        seed_everything(seed)
        model = method.prepare(load_classifier(params.model.name, 2), cfg, total_steps=4)
        return torch.cat([p.detach().flatten() for n, p in model.named_parameters() if "lora_A" in n])

    assert torch.equal(lora_a(0), lora_a(0))
    assert not torch.equal(lora_a(0), lora_a(1))
