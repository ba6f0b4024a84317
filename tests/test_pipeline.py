"""End to end through DVC on the shrunk real config: repro, no-op second repro, param isolation, and the
check CI runs on committed results (`harness current`) failing on a stale or edited result."""

import json
import re
import shutil
import subprocess
import time

import pytest
import yaml

from tests.conftest import ROOT, set_runs, write_params, write_project_params

pytestmark = pytest.mark.slow


def sh(*cmd, cwd, ok=True):
    proc = subprocess.run(cmd, cwd=cwd, capture_output=True, text=True)
    if ok:
        assert proc.returncode == 0, f"{' '.join(cmd)} failed:\n{proc.stdout[-3000:]}\n{proc.stderr[-3000:]}"
    return proc


def commit(cwd, message):
    sh("git", "add", "-A", cwd=cwd)
    sh("git", "-c", "user.name=test", "-c", "user.email=test@example.com", "commit", "-q", "-m", message, cwd=cwd)


# One run of every kind of stage path (adapter, AdaLoRA's allocator and truncation, LoRA+'s optimizer and
# tracking, full fine-tuning as the reference, a budget-sweep point per series, bitsandbytes, no training);
# every method's own train/save/reload is the contract test's (tests/test_methods.py). Each stage costs
# seconds of DVC bookkeeping whatever its size, so the shrunk pipeline keeps these runs only.
RUNS = ("lora", "adalora", "loraplus", "full", "lora_r2", "adalora_b2", "qlora", "knn")


def shrink_runs(raw: dict, atlas: dict) -> None:
    """The shrunk params and atlas spec keep :data:`RUNS`, the planted task the arms are tuned on and the no-plant control, the causal LoRA and full runs and SFT-then-DPO on each, and the retrieval and knowledge arms on them."""
    set_runs(raw, {name: raw["train"][name] for name in RUNS})
    raw["planted"]["tasks"] = {task: raw["planted"]["tasks"][task] for task in (raw["planted"]["tune_task"], "none")}
    raw["causal"]["runs"] = {name: raw["causal"]["runs"][name] for name in ("lora", "full")}
    # lora_all is not kept (the same method as lora): what names it names lora
    raw["causal"]["align"]["runs"]["sft_dpo_lora"]["sft_run"] = "lora"
    raw["causal"]["rag"]["models"] = ["lora" if m == "lora_all" else m for m in raw["causal"]["rag"]["models"]]
    for arm in raw["causal"]["knowledge"]["arms"].values():
        if arm.get("run") == "lora_all":
            arm["run"] = "lora"
    for row in atlas["rows"]:
        row["runs"] = [r for r in row["runs"] if r in RUNS]
    atlas["rows"] = [row for row in atlas["rows"] if row["runs"] or row.get("align_runs") or row.get("not_run")]


@pytest.fixture
def project(tmp_path, tiny_raw):
    """A throwaway copy of the project (pipeline, code, examples) with the shrunk params, committed under git + DVC."""
    return build_project(tmp_path, tiny_raw)


def build_project(tmp_path, tiny_raw):
    for name in ("harness", "experiments"):
        shutil.copytree(ROOT / name, tmp_path / name, ignore=shutil.ignore_patterns("__pycache__"))
    for inputs in ("reference", "profiles"):  # results that are inputs: the real-data reference run, other profiles' results
        shutil.copytree(ROOT / "results" / inputs, tmp_path / "results" / inputs)
    shutil.copy(ROOT / "dvc.yaml", tmp_path / "dvc.yaml")
    for study in sorted((ROOT / "studies").glob("*/dvc.yaml")):  # each study's pipeline; its lock as one that never ran
        (tmp_path / "studies" / study.parent.name).mkdir(parents=True)
        shutil.copy(study, tmp_path / "studies" / study.parent.name / "dvc.yaml")
        (tmp_path / "studies" / study.parent.name / "dvc.lock").write_text("schema: '2.0'\nstages: {}\n")
    shutil.copy(ROOT / ".gitignore", tmp_path / ".gitignore")
    atlas = yaml.safe_load((ROOT / "experiments" / "atlas.yaml").read_text())
    shrink_runs(tiny_raw, atlas)
    (tmp_path / "experiments" / "atlas.yaml").write_text(yaml.safe_dump(atlas, sort_keys=False))
    write_project_params(tmp_path, tiny_raw)
    sh("git", "init", "-q", cwd=tmp_path)
    sh("dvc", "init", "-q", cwd=tmp_path)
    commit(tmp_path, "code")
    return tmp_path


def stdout(proc):
    return proc.stdout + proc.stderr


def repro_all(project):
    """What `make repro-all` runs: every study's pipeline, then the default's (whose reports read them all)."""
    for study in sorted((project / "studies").glob("*/dvc.yaml")):
        sh("harness", "preload", "--", "dvc", "repro", str(study.relative_to(project)), cwd=project)
    sh("harness", "preload", "--", "dvc", "repro", cwd=project)  # what `make repro` runs


def test_repro_noop_param_isolation_and_the_staleness_check(project):
    repro_all(project)
    status = (project / "results" / "status.md").read_text()
    for title in yaml.safe_load((project / "experiments" / "components.yaml").read_text()).values():
        assert f"| {title} |" in status  # every component, its status derived from its claims
    assert "| exact counts from configs | 11 | 0 | 6 |" in status  # counts need no runs: the same as the committed table
    # claims of runs this shrunk params file does not configure read "not run", naming the run
    assert "no eval results for run 'adalora_fixed' in this profile" in status
    assert "| lora | lora |" in status and "| adalora | adalora |" in status
    assert "| icl | in_context (1-shot) |" in status  # the causal track's no-training row
    atlas = (project / "results" / "atlas.md").read_text()
    assert "| LoRA / QLoRA | qlora |" in atlas and "| retrieval / in-context | knn |" in atlas
    assert (project / "results" / "atlas_plots" / "pareto_params.png").is_file()
    train = json.loads((project / "results" / "train" / "lora.json").read_text())
    assert train["provenance"]["git"]["dirty"] is False  # written by committed code; its own outputs do not count

    assert "Data and pipelines are up to date" in stdout(sh("dvc", "repro", "--all-pipelines", cwd=project))
    commit(project, "results")
    fresh = stdout(sh("harness", "current", cwd=project))
    assert "current: the default pipeline is up to date" in fresh and "study truncation: current" in fresh

    # CI on a stale result: params changed after the results were committed
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["train"]["lora"]["r"] = 4
    write_params(project, raw)
    stale = sh("harness", "current", cwd=project, ok=False)
    assert stale.returncode == 2
    assert "error: results are stale for the committed code, params or data: dvc would rerun " in stale.stderr
    # the default's own stages; the truncation study reads LoRA's model but is no part of the default
    assert set(stale.stderr.split("rerun ")[1].split(";")[0].split(", ")) == {"tune@lora", "train@lora", "evaluate@lora", "atlas", "tabulate"}

    commit(project, "r=4")  # results come from committed params, or they record a dirty tree
    out = stdout(sh("harness", "preload", "--", "dvc", "repro", cwd=project))
    ran = {line.split("'")[1] for line in out.splitlines() if line.startswith("Running stage")}
    assert ran == {"tune@lora", "train@lora", "evaluate@lora", "tabulate", "atlas"}  # `make repro` never runs a study
    commit(project, "results at r=4")
    # a stale study does not fail the check; the table marks every claim judged on it
    passed = sh("harness", "current", cwd=project)
    assert "study truncation: stale since" in passed.stdout and "models/lora modified" in passed.stdout
    status = json.loads((project / "results" / "status.json").read_text())
    assert set(status["stale_studies"]) == {"truncation"}
    # no claim reads the truncation curves (tests/test_reports.py holds the marks of the committed claims on stale
    # studies); the table names the study, the commit of its results and what changed
    assert not any(c["stale"] for c in status["claims"])
    assert re.search(r"\| truncation \| `\w{7}` \| 1 \| .*models/lora modified", (project / "results" / "status.md").read_text())
    # the study reruns on its own; then the table is tabulated afresh and nothing is stale
    sh("harness", "preload", "--", "dvc", "repro", "studies/truncation/dvc.yaml", cwd=project)
    sh("dvc", "repro", cwd=project)
    commit(project, "truncation rerun")
    assert "study truncation: current" in sh("harness", "current", cwd=project).stdout
    assert not any(c["stale"] for c in json.loads((project / "results" / "status.json").read_text())["claims"])

    # a look of the seed plan adds a seed to a run: DVC reruns its stages (their params changed), which keep the
    # tuning and the finished seed (their outputs persist: harness/engine/kept.py) and train the new seed only
    tuned = (project / "results" / "tune" / "lora.json").read_bytes()
    trained_at = json.loads((project / "results" / "train" / "lora.json").read_text())["provenance"]["git"]["sha"]
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["train"]["lora"]["seeds"] = [0, 1]
    write_params(project, raw)
    commit(project, "a look: lora at 2 seeds")
    out = stdout(sh("harness", "preload", "--", "dvc", "repro", cwd=project))
    assert "train@lora: seeds 0 kept" in out and "tune@lora: kept" in out
    assert (project / "results" / "tune" / "lora.json").read_bytes() == tuned
    train = json.loads((project / "results" / "train" / "lora.json").read_text())
    assert train["kept_from"] == {"0": trained_at} and set(train["seeds"]) == {"0", "1"}
    assert set(json.loads((project / "results" / "eval" / "lora.json").read_text())["seeds"]) == {"0", "1"}
    commit(project, "results of the look")

    # CI on a hand-edited result: the file no longer matches what its stage recorded in dvc.lock
    path = project / "results" / "eval" / "lora.json"
    edited = json.loads(path.read_text())
    edited["seeds"]["0"]["metrics"]["accuracy"] = 100.0
    path.write_text(json.dumps(edited))
    commit(project, "edited")
    tampered = sh("harness", "current", cwd=project, ok=False)
    assert tampered.returncode == 2
    assert "evaluate@lora" in tampered.stderr.split("rerun ")[1].split(";")[0].split(", ")


def test_bad_params_leave_no_outputs(project):
    raw = yaml.safe_load((project / "params.yaml").read_text())
    raw["data"]["source"] = "local"
    raw["data"]["local"]["train"] = "missing.tsv"
    write_params(project, raw)
    proc = subprocess.run(["dvc", "repro", "prepare"], cwd=project, capture_output=True, text=True)
    assert proc.returncode != 0
    assert "error: params.yaml: data.local.train: file not found: missing.tsv" in proc.stdout + proc.stderr
    assert not (project / "data" / "prepared").exists() and not (project / "results" / "prepare.json").exists()


def test_glue_files_as_they_ship_train_and_evaluate_through_dvc_exp_run(project):
    """An RTE-format file (label names, sentence pairs) and a headerless MRPC-format file, each through
    `harness preload -- dvc exp run -S ...` from prepare to evaluate, the way a user points the pipeline at GLUE files."""
    glue = project / "glue"
    glue.mkdir()
    rte = [f"{i}\tA man is sleeping in room {i}.\tSomeone sleeps {i}.\t{'entailment' if i % 3 else 'not_entailment'}" for i in range(40)]
    (glue / "rte_train.tsv").write_text("index\tsentence1\tsentence2\tlabel\n" + "\n".join(rte[:30]) + "\n")
    (glue / "rte_dev.tsv").write_text("index\tsentence1\tsentence2\tlabel\n" + "\n".join(rte[30:]) + "\n")
    mrpc = [f"{i % 2}\t{1000 + i}\t{2000 + i}\tThe cat sat on mat {i}.\tA cat was on mat {i}." for i in range(40)]
    (glue / "mrpc_train.tsv").write_text("\n".join(mrpc[:30]) + "\n")  # no header row
    (glue / "mrpc_dev.tsv").write_text("\n".join(mrpc[30:]) + "\n")
    common = ["-S", "data.source=local", "-S", "data.validation_size=6", "-S", "data.train_size=0", "-S", "data.eval_size=0"]
    runs = {
        "rte": ["-S", "data.labels=[not_entailment,entailment]", "-S", "data.local.train=glue/rte_train.tsv", "-S", "data.local.eval=glue/rte_dev.tsv",
                "-S", "data.local.text_column=sentence1", "-S", "data.local.text_pair_column=sentence2", "-S", "data.local.label_column=label"],
        "mrpc": ["-S", "data.labels=[0,1]", "-S", "data.local.header=false", "-S", "data.local.train=glue/mrpc_train.tsv", "-S", "data.local.eval=glue/mrpc_dev.tsv",
                 "-S", "data.local.text_column=3", "-S", "data.local.text_pair_column=4", "-S", "data.local.label_column=0"],
    }
    for name, settings in runs.items():
        sh("harness", "preload", "--", "dvc", "exp", "run", "-n", name, *common, *settings, "evaluate@lora", cwd=project)
        prepared = json.loads((project / "results" / "prepare.json").read_text())
        assert prepared["sizes"] == {"train": 24, "validation": 6, "test": 10}, name
        assert ("label_ids" in prepared) == (name == "rte")
        evaluated = json.loads((project / "results" / "eval" / "lora.json").read_text())
        assert 0 <= evaluated["seeds"]["0"]["metrics"]["accuracy"] <= 100


def test_two_queued_experiments_run_side_by_side(project):
    """What docs/training.md shows for many experiments at once: `dvc exp run --queue -S ...` twice, then
    `dvc queue start -j 2`; each experiment runs in a worker of its own and keeps its own params and results."""
    for steps in (4, 5):
        sh("dvc", "exp", "run", "--queue", "-n", f"steps{steps}", "-S", f"loop.max_steps={steps}", "train@lora", cwd=project)
    sh("dvc", "queue", "start", "-j", "2", cwd=project)
    deadline = time.monotonic() + 900
    while any(word in stdout(sh("dvc", "queue", "status", cwd=project)) for word in ("Queued", "Running")):
        assert time.monotonic() < deadline, stdout(sh("dvc", "queue", "status", cwd=project))
        time.sleep(5)
    status = stdout(sh("dvc", "queue", "status", cwd=project))
    assert status.count("Success") == 2, status
    refs = sh("git", "for-each-ref", "--format=%(refname)", "refs/exps/", cwd=project).stdout.split()
    for steps in (4, 5):
        [ref] = [r for r in refs if r.endswith(f"/steps{steps}")]  # where DVC keeps the experiment's commit
        result = json.loads(sh("git", "show", f"{ref}:results/train/lora.json", cwd=project).stdout)
        assert result["seeds"]["0"]["steps"] == steps
    sh("dvc", "queue", "stop", cwd=project, ok=False)
