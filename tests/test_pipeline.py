"""End to end through DVC on the shrunk real config: repro, no-op second repro, param isolation."""

import shutil
import subprocess

import pytest
import yaml

from tests.conftest import ROOT, write_params

pytestmark = pytest.mark.slow


def sh(*cmd, cwd):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc.stdout + proc.stderr


@pytest.fixture
def project(tmp_path, tiny_raw):
    """A throwaway copy of the project (pipeline, code, examples) with the shrunk params, under git + DVC."""
    for name in ("harness", "experiments"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    tiny_raw["train"]["adalora"]["lr"] = tiny_raw["train"]["adalora"].get("lr", 5e-3)
    write_params(tmp_path, tiny_raw)
    sh("git", "init", "-q", cwd=tmp_path)
    sh("dvc", "init", "-q", cwd=tmp_path)
    return tmp_path


def test_repro_noop_and_param_isolation(project):
    out = sh("dvc", "repro", cwd=project)
    status = (project / "results" / "status.md").read_text()
    for component in ("LoRA core", "Dynamic rank selection (AdaLoRA)", "Gradient strategy (LoRA+)", "Training script",
                      "Evaluation metrics", "Examples", "Budget sweep", "Planted-rank benchmark", "Causal-LM track (lm-eval)"):
        assert f"| {component} |" in status
    assert "| lora | lora |" in status and "| adalora | adalora |" in status
    assert "| icl | in_context (1-shot) |" in status  # the causal track's no-training row
    atlas = (project / "results" / "atlas.md").read_text()
    assert "| LoRA / QLoRA | qlora |" in atlas and "| retrieval / in-context | knn |" in atlas
    assert (project / "results" / "atlas_plots" / "pareto_params.png").is_file()

    assert "Data and pipelines are up to date" in sh("dvc", "repro", cwd=project)

    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["train"]["lora"]["r"] = 4
    write_params(project, raw)
    out = sh("dvc", "repro", cwd=project)
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"train@lora", "evaluate@lora", "truncate@lora", "tabulate", "atlas"}


def test_bad_params_leave_no_outputs(project):
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["data"]["source"] = "local"
    raw["data"]["local"]["train"] = "missing.tsv"
    write_params(project, raw)
    proc = subprocess.run(["dvc", "repro", "prepare"], cwd=project, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "error: params.yaml: data.local.train: file not found: missing.tsv" in proc.stdout + proc.stderr
    assert not (project / "data" / "prepared").exists() and not (project / "results" / "prepare.json").exists()
