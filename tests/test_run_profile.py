"""Profiles side by side: results/profiles/<name>/ judged against the claims that name it, and harness
run-profile writing it from a checkout of HEAD without touching params.yaml."""

from __future__ import annotations

import copy
import json
import shutil

import pytest
import yaml

from harness.claims.engine import pipeline_context, profile_results
from harness.claims.measures import NotRun, RunMeasure, RunSettings
from harness.core.config import load_params
from harness.core.errors import HarnessError
from tests.conftest import ROOT, write_params
from tests.test_pipeline import commit, project, sh  # noqa: F401 (project is a fixture)


def other_profile(results, raw, name="other", runs=("lora",)):
    """results/profiles/<name>/ holding the committed default's train and eval records of ``runs``."""
    folder = results / "profiles" / name
    for kind in ("train", "eval"):
        (folder / kind).mkdir(parents=True)
        for run in runs:
            shutil.copy(ROOT / "results" / kind / f"{run}.json", folder / kind / f"{run}.json")
    raw = copy.deepcopy(raw)
    raw["profile"] = name
    write_params(folder, raw)
    return folder


def test_a_claim_is_judged_against_the_profile_it_names(tmp_path, repo_params):
    results = tmp_path / "results"
    other_profile(results, repo_params)
    params = load_params(ROOT / "params.yaml")
    ctx = pipeline_context(params, results)
    assert list(ctx.profiles) == ["other"] and ctx.profile == "smoke"
    sample = RunMeasure.sample(RunSettings(kind="run", run="lora", field="metrics.accuracy", profile="other"), ctx)
    committed = json.loads((ROOT / "results" / "eval" / "lora.json").read_text())["seeds"]
    assert sample.values == [committed[s]["metrics"]["accuracy"] for s in sorted(committed, key=int)]
    with pytest.raises(NotRun, match="profile absent has not run here: `harness run-profile absent`"):
        RunMeasure.sample(RunSettings(kind="run", run="lora", field="metrics.accuracy", profile="absent"), ctx)
    with pytest.raises(NotRun, match="no eval results for run 'adalora'"):
        RunMeasure.sample(RunSettings(kind="run", run="adalora", field="metrics.accuracy", profile="other"), ctx)


def test_a_profile_folder_must_carry_its_own_name(tmp_path, repo_params):
    folder = other_profile(tmp_path / "results", repo_params)
    folder.rename(folder.with_name("renamed"))
    with pytest.raises(HarnessError, match="profile 'other' in a folder named 'renamed'"):
        profile_results(tmp_path / "results")
    folder.with_name("renamed").rename(folder.with_name(".other.tmp"))  # an interrupted copy-back is not a profile
    assert profile_results(tmp_path / "results") == {}


@pytest.mark.slow
def test_run_profile_runs_beside_the_default_and_resumes(project, tiny_raw):  # noqa: F811 (the fixture)
    """The profile runs in .profiles/<name> at HEAD; its results, params and run record land in
    results/profiles/<name>/ with a clean provenance naming the profile file; params.yaml is untouched; a rerun at
    a later commit that changes no stage's inputs reruns nothing and adds an invocation; an unknown profile is
    refused naming the known ones."""
    raw = copy.deepcopy(tiny_raw)
    raw["profile"] = "tiny-other"
    raw["train"] = {"lora": raw["train"]["lora"]}
    raw["truncate"] = {"runs": []}
    raw["sweep"] = {}
    profile = yaml.safe_dump(raw, sort_keys=False)
    (project / "experiments" / "profiles" / "tiny-other.yaml").write_text(profile)
    commit(project, "a second profile")
    params_before = (project / "params.yaml").read_text()
    sh("harness", "run-profile", "tiny-other", "evaluate@lora", cwd=project)
    folder = project / "results" / "profiles" / "tiny-other"
    assert (project / "params.yaml").read_text() == params_before
    assert (folder / "params.yaml").read_text() == profile
    names = {p.name for p in folder.iterdir()}
    assert {"eval", "train", "tune", "prepare.json", "params.yaml", "run.json"} <= names  # what evaluate@lora needs
    assert not names & {"status.json", "atlas.json", "reference", "profiles"}  # not run here, or the pipeline's inputs
    evaluated = json.loads((folder / "eval" / "lora.json").read_text())
    assert evaluated["provenance"]["git"] == {"sha": sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip(), "dirty": False,
                                              "params_from": "experiments/profiles/tiny-other.yaml"}
    run = json.loads((folder / "run.json").read_text())
    assert run["command"] == "harness run-profile tiny-other evaluate@lora" and run["wall_seconds"] > 0
    assert run["provenance"]["git"] == evaluated["provenance"]["git"]
    (project / "README.md").write_text("a commit that changes no stage's inputs\n")
    commit(project, "docs")
    again = sh("harness", "run-profile", "tiny-other", "evaluate@lora", cwd=project)
    assert "Running stage" not in again.stdout + again.stderr  # resumed at the new commit: nothing to rerun
    rerun = json.loads((folder / "run.json").read_text())
    assert len(rerun["invocations"]) == 2 and rerun["wall_seconds"] == round(sum(i["wall_seconds"] for i in rerun["invocations"]), 1)
    assert rerun["provenance"]["git"]["sha"] == sh("git", "rev-parse", "HEAD", cwd=project).stdout.strip()
    assert json.loads((folder / "eval" / "lora.json").read_text()) == evaluated  # what did not rerun keeps its record
    bad = sh("harness", "run-profile", "absent", cwd=project, ok=False)
    assert bad.returncode == 2 and "no profile 'absent'" in bad.stderr and "tiny-other" in bad.stderr


def test_the_run_record_sums_the_invocations_that_built_the_results(tmp_path):
    """A resumed run adds its invocation to the record; a run in a fresh checkout built every result itself, so the
    committed record's earlier invocations are not part of its cost."""
    from harness.commands.run_profile import run_record

    path = tmp_path / "run.json"
    invocation = {"command": "harness run-profile p", "wall_seconds": 10.0, "provenance": {"git": {"sha": "a"}}}
    path.write_text(json.dumps(run_record(path, "p", invocation, resumed=False)))
    later = {**invocation, "wall_seconds": 5.0, "provenance": {"git": {"sha": "b"}}}
    resumed = run_record(path, "p", later, resumed=True)
    assert resumed["wall_seconds"] == 15.0 and len(resumed["invocations"]) == 2 and resumed["provenance"] == later["provenance"]
    fresh = run_record(path, "p", later, resumed=False)
    assert fresh["wall_seconds"] == 5.0 and fresh["invocations"] == [later]
