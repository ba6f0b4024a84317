"""The prepared GPU check runs end to end (here on the CPU, shrunk: ``--quick``), so the few minutes a lent GPU
gives are never spent on a wiring fault."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import ROOT


@pytest.mark.slow
def test_the_gpu_check_runs_and_writes_its_record(tmp_path):
    # the command CI runs: `make gpu-check DRY=1`, from the environment running the suite (-o: not reinstalled here)
    venv = Path(sys.executable).parents[1]
    proc = subprocess.run(["make", "-s", "-o", f"{venv}/.installed", "gpu-check", "DRY=1", f"OUT={tmp_path}", f"VENV={venv}"],
                          capture_output=True, text=True, cwd=ROOT)
    assert proc.returncode == 0, proc.stderr[-2000:]
    (record,) = [json.loads(p.read_text()) for p in tmp_path.glob("*.json")]
    parts = {(r["part"], r["run"], r["precision"]) for r in record["rows"]}
    assert ("default core runs", "lora", "fp32") in parts
    assert {("DeBERTaV3-base (shrunk: --quick)", run, "bf16") for run in ("lora", "adalora")} <= parts
    # MFU has no upper bound here: beside another test worker the CPU's GEMM peak can be measured while the cores
    # are shared and the training step while they are not (CI measured 114%); on a GPU it is the device's own
    for row in record["rows"]:
        assert row["tokens_per_s"] > 0 and row["mfu"] > 0 and row["final_loss"] == row["final_loss"]
    core = next(r for r in record["rows"] if r["part"] == "default core runs")
    assert 0 <= core["validation_accuracy"] <= 100
    assert record["provenance"]["git"]["sha"] and record["gemm_peak_gflops"]["fp32"] > 0
    assert "| default core runs | lora | fp32 |" in proc.stdout
