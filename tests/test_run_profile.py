"""Profiles side by side: results/profiles/<name>/ judged against the claims that name it, and harness
run-profile writing it from a checkout of HEAD without touching params.yaml."""

from __future__ import annotations

import copy
import json
import os
import re
import shutil
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

from harness.claims.engine import pipeline_context, profile_results
from harness.claims.measures import NotRun, RunMeasure, RunSettings
from harness.commands import run_profile as module
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


def test_a_profiles_own_committed_results_are_not_a_second_context_beside_its_live_ones(tmp_path, repo_params):
    """Judged inside the smoke profile's pipeline, results/profiles/smoke/ (its committed copy) is not another profile:
    the live outputs are the context, and only the other profiles are read from their folders."""
    results = tmp_path / "results"
    other_profile(results, repo_params)
    other_profile(results, repo_params, name="smoke")
    assert list(pipeline_context(load_params(ROOT / "params.yaml"), results).profiles) == ["other"]


def test_a_profile_folder_must_carry_its_own_name(tmp_path, repo_params):
    folder = other_profile(tmp_path / "results", repo_params)
    folder.rename(folder.with_name("renamed"))
    with pytest.raises(HarnessError, match=r"profile 'other' in a folder named 'renamed'; the folder is the profile's name \(harness run-profile writes both\)$"):
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


def test_the_checkout_starts_from_the_commit_without_the_defaults_results_then_keeps_only_the_profiles(tmp_path):
    """``.profiles/<name>`` is made at the commit asked for (not HEAD) with the default's committed results cleared
    (the pipeline's inputs kept), the shared DVC cache, and a link to each sibling folder the profile names; made
    again after the folder was deleted by hand. Moved to a later commit it keeps the profile's own results and every
    pipeline's dvc.lock over the commit's (a study the commit removed keeps its lock), drops what that commit
    committed into the default's results, and discards the laid-out params; at its commit already nothing moves.
    lay_out then makes the profile file the params and gives each study its part (a study the profile holds nothing
    of loses its dvc.yaml, and gets it back when a later profile holds part of it)."""
    from harness.commands.run_profile import checkout, lay_out

    root, sibling = tmp_path / "repo", tmp_path / "glue"
    sibling.mkdir()
    files = {"params.yaml": "studies: [s1, s2]\ntrain: {lora: {method: lora}}\n",
             "studies/s1/params.yaml": "train: {extra: {method: lora}}\n", "studies/s1/dvc.yaml": "stages: {}\n",
             "studies/s2/params.yaml": "sweep: {points: [1]}\n", "studies/s2/dvc.yaml": "stages: {}\n",
             "experiments/profiles/p.yaml": "profile: p\ndata: {local: {train: ../glue/train.tsv}}\ntrain: {lora: {method: lora}, extra: {method: lora, r: 4}}\n",
             "experiments/profiles/q.yaml": "profile: q\ntrain: {lora: {method: lora}}\nsweep: {points: [2]}\n",
             "results/reference/r.md": "input\n", "results/profiles/q/run.json": "{}\n", "results/eval/lora.json": "{\"default\": 1}\n",
             "results/status.json": "{}\n", "dvc.lock": "default: lock\n"}
    for path, text in files.items():
        (root / path).parent.mkdir(parents=True, exist_ok=True)
        (root / path).write_text(text)
    sh("git", "init", "-q", cwd=root)
    sh("dvc", "init", "-q", cwd=root)
    commit(root, "first")
    first = sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()
    (root / "README.md").write_text("second\n")
    commit(root, "second")  # HEAD moves on: the checkout is made at the commit it is given

    work = checkout(root, "p", first)
    assert work == root / ".profiles" / "p" and sh("git", "rev-parse", "HEAD", cwd=work).stdout.strip() == first
    assert sorted(p.name for p in (work / "results").iterdir()) == ["profiles", "reference"]  # the default's results cleared
    cache = sh("dvc", "cache", "dir", cwd=root).stdout.strip()
    assert sh("dvc", "cache", "dir", cwd=work).stdout.strip() == str(Path(cache).resolve())
    assert (work.parent / "glue").resolve() == sibling.resolve()
    shutil.rmtree(work)  # deleted by hand: git still lists the worktree until it is pruned
    assert checkout(root, "p", first) == work and (work / "params.yaml").is_file()

    lay_out(work, root / "experiments" / "profiles" / "p.yaml")  # params.yaml now differs from the commit's
    (work / "results" / "tune").mkdir()
    (work / "results" / "tune" / "lora.json").write_text("{\"profile\": 1}\n")
    (work / "dvc.lock").write_text("profile: lock\n")
    for study in ("s1", "s2"):
        (work / "studies" / study / "dvc.lock").write_text(f"profile: {study}\n")
    (root / "results" / "eval" / "adalora.json").write_text("{\"default\": 2}\n")
    (root / "studies" / "s1" / "dvc.lock").write_text("default: s1\n")
    (root / "params.yaml").write_text("studies: [s1]\ntrain: {lora: {method: lora, r: 2}}\n")
    shutil.rmtree(root / "studies" / "s2")
    (root / "README.md").write_text("later\n")
    commit(root, "later")
    later = sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip()
    assert checkout(root, "p", later) == work and sh("git", "rev-parse", "HEAD", cwd=work).stdout.strip() == later
    assert (work / "README.md").read_text() == "later\n" and (work / "params.yaml").read_text() == (root / "params.yaml").read_text()
    assert (work / "results" / "tune" / "lora.json").read_text() == "{\"profile\": 1}\n"
    assert sorted(p.name for p in (work / "results").iterdir()) == ["profiles", "reference", "tune"]
    assert (work / "dvc.lock").read_text() == "profile: lock\n"
    assert [(work / "studies" / s / "dvc.lock").read_text() for s in ("s1", "s2")] == ["profile: s1\n", "profile: s2\n"]
    (work / "README.md").write_text("edited in the checkout\n")
    assert checkout(root, "p", later) == work  # at the commit already: nothing moves, nothing is checked out again
    assert (work / "README.md").read_text() == "edited in the checkout\n" and (work / "results" / "tune" / "lora.json").is_file()

    sh("git", "checkout", "-q", "--force", "--detach", first, cwd=work)  # the layout of the first commit, both studies
    source = root / "experiments" / "profiles" / "p.yaml"
    lay_out(work, source)
    assert (work / "params.yaml").read_text() == source.read_text()
    assert yaml.safe_load((work / "studies" / "s1" / "params.yaml").read_text()) == {"train": {"extra": {"method": "lora", "r": 4}}}
    assert (work / "studies" / "s1" / "dvc.yaml").is_file() and not (work / "studies" / "s2" / "dvc.yaml").exists()
    lay_out(work, source)  # again on a laid-out checkout: the committed layout first, so the same result
    assert not (work / "studies" / "s2" / "dvc.yaml").exists() and (work / "params.yaml").read_text() == source.read_text()
    lay_out(work, root / "experiments" / "profiles" / "q.yaml")  # a profile holding part of s2: its pipeline is back
    assert (work / "studies" / "s2" / "dvc.yaml").is_file() and not (work / "studies" / "s1" / "dvc.yaml").exists()
    assert yaml.safe_load((work / "studies" / "s2" / "params.yaml").read_text()) == {"sweep": {"points": [2]}}


def test_a_checkout_of_a_repository_dvc_does_not_know_stops_at_the_cache_it_cannot_read(tmp_path):
    from harness.commands.run_profile import checkout

    root = tmp_path / "repo"
    (root / "experiments" / "profiles").mkdir(parents=True)
    (root / "experiments" / "profiles" / "p.yaml").write_text("profile: p\n")
    (root / "results").mkdir()
    (root / "results" / "x.json").write_text("{}\n")
    sh("git", "init", "-q", cwd=root)
    commit(root, "no dvc")
    with pytest.raises(subprocess.CalledProcessError) as err:
        checkout(root, "p", sh("git", "rev-parse", "HEAD", cwd=root).stdout.strip())
    assert err.value.cmd == ["dvc", "cache", "dir"]


def test_run_profile_refuses_what_it_cannot_run_in_one_line(tmp_path, monkeypatch):
    root = tmp_path / "repo"
    (root / "experiments" / "profiles").mkdir(parents=True)
    (root / "experiments" / "profiles" / "b.yaml").write_text("profile: a\n")
    (root / "experiments" / "profiles" / "c.yaml").write_text("profile: c\n")
    with pytest.raises(HarnessError, match="no profile 'a' .experiments/profiles/a.yaml.; profiles: b, c$"):
        module.run_profile("a", [], root)
    monkeypatch.setattr(module, "load_validated", lambda source: type("P", (), {"profile": yaml.safe_load(source.read_text())["profile"]})())
    with pytest.raises(HarnessError, match="b.yaml: profile: 'a'; the file of profile 'b' must name it"):
        module.run_profile("b", [], root)
    monkeypatch.setattr(module, "check_runs_in_one_pipeline", lambda *a: None)
    for dirty in (True, None):
        monkeypatch.setattr(module, "git_state", lambda where, dirty=dirty: {"sha": "0" * 40, "dirty": dirty})
        with pytest.raises(HarnessError, match=r"^harness run-profile: commit first \(git status shows tracked changes\): a profile's "
                                               r"results record the commit they ran at, and a checkout of it is what runs$"):
            module.run_profile("c", [], root)
    for argv in ([], ["--all"]):
        with pytest.raises(HarnessError, match=r"^usage: harness run-profile <profile name> \[dvc stage ...\] \(stages default to the whole pipeline\)$"):
            module.main(argv)


@pytest.mark.parametrize("targets", [[], ["evaluate@lora", "tune@full"]], ids=["whole", "stages"])
def test_a_profile_run_that_succeeds_records_how_it_ran_and_copies_its_results_back(tmp_path, monkeypatch, targets):
    """The pipeline runs in the checkout with the checkout's code first on PYTHONPATH (the whole of every pipeline,
    or the stages named); then results/profiles/<name>/ holds the checkout's outputs (never the pipeline's inputs),
    its params and the run record: the command, the stages, when it started (UTC, to the second), its wall time and
    the checkout's provenance; a resumed checkout adds to the committed record, a fresh one starts it anew."""
    root, work = tmp_path / "repo", tmp_path / "repo" / ".profiles" / "p"
    (root / "experiments" / "profiles").mkdir(parents=True)
    (root / "experiments" / "profiles" / "p.yaml").write_text("profile: p\n")
    (work / "results" / "eval").mkdir(parents=True)
    (work / "results" / "eval" / "lora.json").write_text("{\"new\": true}\n")
    (work / "results" / "prepare.json").write_text("{}\n")
    (work / "results" / "reference").mkdir()
    (work / "results" / "reference" / "r.md").write_text("an input\n")
    (work / "params.yaml").write_text("profile: p\n")
    calls = []
    monkeypatch.setattr(module, "load_validated", lambda source: type("P", (), {"profile": "p"})())
    monkeypatch.setattr(module, "check_runs_in_one_pipeline", lambda *a: calls.append(("check", *a)))
    monkeypatch.setattr(module, "git_state", lambda where: {"sha": f"sha of {Path(where).name}", "dirty": False})
    monkeypatch.setattr(module, "hardware", lambda: {"cpu_count": 2})
    def fake_checkout(where, name, sha):
        calls.append(("checkout", where, name, sha))
        if not work.is_dir():  # a fresh checkout of HEAD: no profile outputs yet
            (work / "results").mkdir(parents=True)
            (work / "params.yaml").write_text("profile: p\n")
        return work

    monkeypatch.setattr(module, "checkout", fake_checkout)
    monkeypatch.setattr(module, "lay_out", lambda where, source: calls.append(("lay_out", where, source)))
    monkeypatch.setenv("PYTHONPATH", "/elsewhere")
    clock = iter([100.0, 112.345])
    monkeypatch.setattr(module.time, "monotonic", lambda: next(clock))
    monkeypatch.setattr(module.subprocess, "run", lambda args, cwd, env: calls.append(("run", args, cwd, env["PYTHONPATH"]))
                        or subprocess.CompletedProcess(args, 0))

    (root / "results" / "profiles" / ".p.tmp" / "eval").mkdir(parents=True)  # left by an interrupted copy-back
    dest = module.run_profile("p", targets, root)
    assert dest == root / "results" / "profiles" / "p"
    assert calls == [("check", root / "experiments" / "profiles" / "p.yaml", root), ("checkout", root, "p", "sha of repo"), ("lay_out", work, root / "experiments" / "profiles" / "p.yaml"),
                     ("run", [sys.executable, "-m", "harness.core.cli", "preload", "--", "dvc", "repro", *(targets or ["--all-pipelines"])],
                      work, f"{work.resolve()}{os.pathsep}/elsewhere")]
    assert sorted(p.name for p in dest.iterdir()) == ["eval", "params.yaml", "prepare.json", "run.json"]
    assert (dest / "eval" / "lora.json").read_text() == "{\"new\": true}\n" and (dest / "params.yaml").read_text() == "profile: p\n"
    record = json.loads((dest / "run.json").read_text())
    invocation = dict(record["invocations"][0])
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\+00:00", invocation.pop("started"))
    command = " ".join(["harness", "run-profile", "p", *targets])
    assert invocation == {"command": command, "stages": targets or ["(all)"], "wall_seconds": 12.3,
                          "provenance": {"git": {"sha": "sha of p", "dirty": False}, "hardware": {"cpu_count": 2}}}
    assert record == {"profile": "p", "command": command, "invocations": [{**invocation, "started": record["invocations"][0]["started"]}],
                      "wall_seconds": 12.3, "provenance": invocation["provenance"]}

    clock = iter([200.0, 201.0])  # again, the checkout kept: a resumed run adds its invocation
    assert module.run_profile("p", targets, root) == dest
    again = json.loads((dest / "run.json").read_text())
    assert len(again["invocations"]) == 2 and again["wall_seconds"] == 13.3
    shutil.rmtree(work.parent)  # a fresh checkout (say, a new machine): the record starts anew
    clock = iter([300.0, 302.0])
    module.run_profile("p", targets, root)
    fresh = json.loads((dest / "run.json").read_text())
    assert len(fresh["invocations"]) == 1 and fresh["wall_seconds"] == 2.0
    assert sorted(p.name for p in dest.iterdir()) == ["params.yaml", "run.json"]  # the old results went with the old folder
    assert sorted(p.name for p in dest.parent.iterdir()) == ["p"]  # no scratch folder left beside it


def test_the_copy_back_makes_the_profiles_folder_and_clears_a_swap_left_half_done(tmp_path):
    """harvest: the first profile ever makes results/profiles/; a `.<name>.old` left by a swap that was killed between
    its two renames is cleared, so the next copy-back completes and leaves only the profile's folder."""
    work = tmp_path / "work"
    (work / "results" / "eval").mkdir(parents=True)
    (work / "results" / "eval" / "lora.json").write_text("{}\n")
    (work / "params.yaml").write_text("profile: p\n")
    dest = tmp_path / "results" / "profiles" / "p"
    assert module.harvest(work, dest, {"profile": "p"}) == dest and (dest / "eval" / "lora.json").is_file()
    (dest.parent / ".p.old" / "eval").mkdir(parents=True)  # the old results, renamed away, then the run was killed
    (dest.parent / ".p.old" / "eval" / "stale.json").write_text("{}\n")
    module.harvest(work, dest, {"profile": "p", "again": True})
    assert sorted(p.name for p in dest.parent.iterdir()) == ["p"] and json.loads((dest / "run.json").read_text())["again"]


def test_run_profile_main_runs_the_named_stages_and_says_where_the_results_are(monkeypatch, capsys):
    asked = []
    monkeypatch.setattr(module, "run_profile", lambda name, targets: asked.append((name, targets)))
    clock = iter([10.0, 72.4])
    monkeypatch.setattr(module.time, "monotonic", lambda: next(clock))
    module.main(["glue-x", "evaluate@lora", "tune@full"])
    assert asked == [("glue-x", ["evaluate@lora", "tune@full"])]
    assert capsys.readouterr().out == "results/profiles/glue-x: profile glue-x ran in 62 s\n"


def test_a_profiles_sibling_folders_resolve_from_its_checkout_and_git_failures_say_why(tmp_path):
    from harness.commands.run_profile import git, link_siblings

    root = tmp_path / "repo"
    (root / "experiments" / "profiles").mkdir(parents=True)
    (root / "experiments" / "profiles" / "p.yaml").write_text("train: ../glue/SST-2/train.tsv\neval: '../glue/x'\nother: \"../absent/y\"\n")
    (tmp_path / "glue").mkdir()
    work = root / ".profiles" / "p"
    work.mkdir(parents=True)
    link_siblings(root, work)
    assert sorted(p.name for p in work.parent.iterdir()) == ["glue", "p"]  # no link to a sibling that is not there
    assert (work.parent / "glue").is_symlink() and (work.parent / "glue").resolve() == (tmp_path / "glue").resolve()
    link_siblings(root, work)  # again: the link is kept
    assert (work.parent / "glue").resolve() == (tmp_path / "glue").resolve()
    with pytest.raises(HarnessError, match=r"^git rev-parse HEAD: fatal: not a git repository"):
        git(tmp_path, "rev-parse", "HEAD")
    assert git(root.parent, "--version").startswith("git version")
