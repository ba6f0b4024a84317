"""Data parallelism through ``accelerate launch``: 2 CPU processes (gloo) train what 1 process trains at the
doubled batch, and a stage launched that way writes its outputs once."""

import os
import subprocess
import sys

import pytest
import torch

from harness.core.io import read_json
from tests.conftest import ROOT, set_runs, write_params

pytestmark = pytest.mark.slow
# `accelerate launch --cpu` starts one process unless given an mpirun hostfile; `--multi_gpu` is its torchrun
# launcher, and on a machine without a GPU the Trainer (loop.device auto -> cpu) joins a gloo process group
ACCELERATE_CPU = [sys.executable, "-m", "accelerate.commands.launch", "--multi_gpu", "--num_processes", "2", "--num_machines", "1",
                  "--mixed_precision", "no", "--dynamo_backend", "no", "--main_process_port", "29533"]


def run(cmd, cwd):
    env = {**os.environ, "OMP_NUM_THREADS": "1", "OMP_WAIT_POLICY": "PASSIVE", "PYTHONPATH": str(ROOT)}
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, env=env, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]


@pytest.fixture
def lora_workspace(workspace, tiny_raw):
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    write_params(workspace, tiny_raw)
    run([sys.executable, "-m", "harness.core.cli", "prepare"], workspace)
    return workspace


def test_two_processes_match_one_at_the_doubled_batch(lora_workspace):
    """Loss curve and weights after 6 steps agree to float summation order (rel 1e-4 on the loss, atol 1e-5 on
    weights ~1e-2: Adam's normalisation magnifies rounding on near-zero entries); a launch that gave both
    processes the same batches, or did not average gradients, misses by orders of magnitude more."""
    worker = str(ROOT / "tests" / "ddp_worker.py")
    run([*ACCELERATE_CPU, worker, "8", "6", "ddp.pt"], lora_workspace)
    run([sys.executable, worker, "16", "6", "single.pt"], lora_workspace)
    ddp, single = torch.load(lora_workspace / "ddp.pt"), torch.load(lora_workspace / "single.pt")
    assert [s for s, _ in ddp["loss_curve"]] == list(range(1, 7))
    assert [v for _, v in ddp["loss_curve"]] == pytest.approx([v for _, v in single["loss_curve"]], rel=1e-4)
    assert ddp["tokens"] == single["tokens"]  # the Trainer counts every process's tokens
    for name, weights in ddp["weights"].items():
        torch.testing.assert_close(weights, single["weights"][name], rtol=1e-4, atol=1e-5)


def test_a_stage_under_accelerate_launch_writes_once(lora_workspace):
    """``accelerate launch -m harness.core.cli train lora``: both processes train, rank 0 writes the result and
    the adapters, no scratch directory is left, and the seed trained on both processes' batches."""
    run([sys.executable, "-m", "harness.core.cli", "tune", "lora"], lora_workspace)
    run([*ACCELERATE_CPU, "-m", "harness.core.cli", "train", "lora"], lora_workspace)
    result = read_json(lora_workspace / "results" / "train" / "lora.json")
    seed = result["seeds"]["0"]
    assert seed["steps"] == 6 and len(seed["val_curve"]) == 2
    assert (lora_workspace / "models" / "lora" / "seed_0" / "adapter_config.json").is_file()
    assert [p.name for p in (lora_workspace / "models").iterdir()] == ["lora"]
