"""Provenance: what a result records about where it came from, checked against a real git repository,
and every committed result file carrying it."""

import glob
import json
import subprocess

import pytest
import torch

from harness.core import provenance
from harness.core.errors import HarnessError
from tests.conftest import ROOT


def git(cwd, *args):
    return subprocess.run(["git", "-c", "user.name=t", "-c", "user.email=t@e", *args], cwd=cwd, check=True,
                          capture_output=True, text=True).stdout.strip()


@pytest.fixture
def repo(tmp_path):
    git(tmp_path, "init", "-q")
    (tmp_path / "code.py").write_text("x = 1\n")
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "r.json").write_text("{}")
    (tmp_path / "dvc.lock").write_text("a\n")
    git(tmp_path, "add", "-A")
    git(tmp_path, "commit", "-qm", "c")
    return tmp_path


def test_git_state_is_head_and_whether_tracked_inputs_changed(repo):
    head = git(repo, "rev-parse", "HEAD")
    assert provenance.git_state(repo) == {"sha": head, "dirty": False}
    (repo / "untracked.txt").write_text("new")  # untracked files are not inputs
    (repo / "results" / "r.json").write_text('{"a": 1}')  # nor what the pipeline writes
    (repo / "dvc.lock").write_text("b\n")
    assert provenance.git_state(repo) == {"sha": head, "dirty": False}
    (repo / "code.py").write_text("x = 2\n")
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}
    git(repo, "add", "code.py")  # staged but not committed: still not the commit recorded
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}


def test_the_cpu_model_is_the_whole_name_after_the_first_colon_or_none(monkeypatch):
    class CpuInfo:
        text = ""

        def __init__(self, path):
            assert path == "/proc/cpuinfo"

        def read_text(self):
            return CpuInfo.text

    monkeypatch.setattr(provenance, "Path", CpuInfo)
    CpuInfo.text = "processor\t: 0\nmodel name\t: Vendor CPU: 64-Core @ 2.8GHz\nmodel name\t: second\n"
    assert provenance.cpu_model() == "Vendor CPU: 64-Core @ 2.8GHz"
    CpuInfo.text = "processor\t: 0\nisa\t: rv64imafdc\n"  # no model name line (some ARM and RISC-V kernels)
    assert provenance.cpu_model() is None


def test_params_copied_from_a_committed_profile_are_committed_input(repo):
    """What harness run-profile runs: params.yaml replaced by a profile file, byte for byte, is clean and named;
    one byte more, or a profile of another name, is a change."""
    text = "profile: other\nseeds: [0]\n"
    (repo / "params.yaml").write_text("profile: smoke\nseeds: [0, 1]\n")
    (repo / "experiments" / "profiles").mkdir(parents=True)
    (repo / "experiments" / "profiles" / "other.yaml").write_text(text)
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "profile")
    head = git(repo, "rev-parse", "HEAD")
    (repo / "params.yaml").write_text(text)
    assert provenance.git_state(repo) == {"sha": head, "dirty": False, "params_from": "experiments/profiles/other.yaml"}
    (repo / "params.yaml").write_text(text + "# edited\n")
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}
    (repo / "params.yaml").write_text(text.replace("other", "missing"))
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}


def test_git_state_outside_a_repository_is_unknown(tmp_path):
    assert provenance.git_state(tmp_path) == {"sha": None, "dirty": None}


def test_record_holds_versions_seeds_data_and_hardware(tmp_path):
    (tmp_path / "f").write_bytes(b"abc")
    rec = provenance.record(seeds=[0, 1], data_hashes={"train": provenance.sha256_file(tmp_path / "f")})
    assert rec["packages"]["torch"] == torch.__version__ and rec["packages"]["peft"] is not None
    assert rec["seeds"] == [0, 1]
    assert rec["data"]["train"] == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad"  # sha256("abc")
    assert rec["hardware"]["cpu_count"] >= 1 and rec["hardware"]["torch_threads"] == torch.get_num_threads()


def test_every_committed_result_carries_clean_provenance_from_this_history():
    files = [f for f in glob.glob(str(ROOT / "results" / "**" / "*.json"), recursive=True)]
    assert files
    for f in files:
        prov = json.loads(open(f).read()).get("provenance")
        assert prov is not None, f"{f}: no provenance"
        assert prov["git"]["dirty"] is False, f"{f}: written from a dirty tree"
        sha = prov["git"]["sha"]
        ok = subprocess.run(["git", "cat-file", "-e", f"{sha}^{{commit}}"], cwd=ROOT, capture_output=True).returncode == 0
        assert ok, f"{f}: git SHA {sha} is not in this repository"


def test_tabulate_refuses_a_dirty_tree_unless_told(monkeypatch):
    from harness.core.config import load_params
    from harness.stages import tabulate

    monkeypatch.setattr(tabulate, "record", lambda **kw: {"git": {"sha": "x", "dirty": True}})
    with pytest.raises(HarnessError, match="tracked inputs differ from the commit .* --allow-dirty"):
        tabulate.run(load_params(ROOT / "params.yaml"))
    with pytest.raises(HarnessError, match="allowed: --allow-dirty"):
        tabulate.main(["--dirty"])


def test_hardware_names_the_machine(monkeypatch):
    import platform

    hw = provenance.hardware()
    model = next((line.split(":", 1)[1].strip() for line in open("/proc/cpuinfo") if line.startswith("model name")), None)
    assert hw == {"machine": platform.machine(), "processor": platform.processor() or None, "cpu_model": model,
                  "cpu_count": __import__("os").cpu_count(),
                  "torch_threads": torch.get_num_threads(), "python": platform.python_version(),
                  "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None}
    monkeypatch.setattr(provenance, "PACKAGES", ("torch", "no-such-package-xyz"))
    assert provenance.package_versions() == {"torch": torch.__version__, "no-such-package-xyz": None}
    rec = provenance.record()
    assert set(rec) == {"git", "packages", "seeds", "data", "hardware"} and rec["seeds"] is None and rec["data"] is None


def test_git_state_defaults_to_the_working_directory(repo, monkeypatch):
    monkeypatch.chdir(repo)
    assert provenance.git_state()["sha"] == git(repo, "rev-parse", "HEAD")


def test_a_profile_laid_out_for_the_studies_is_committed_input(tmp_path, monkeypatch):
    """Beside params.yaml copied from a profile, `harness run-profile` writes each study's part of it to that study's
    params.yaml and removes the dvc.yaml of a study the profile holds nothing of; that layout, every study of it, and
    only changes to it, count as committed input (harness.core.config.split_params says what each study's part is)."""
    import yaml

    text = "profile: p\nseeds: [0]\n"
    (tmp_path / "params.yaml").write_text(text)
    (tmp_path / "experiments" / "profiles").mkdir(parents=True)
    (tmp_path / "experiments" / "profiles" / "p.yaml").write_text(text)
    parts = {"a": {"train": {"x": 1}}, "b": None, "c": {}}
    for study, part in parts.items():
        (tmp_path / "studies" / study).mkdir(parents=True)
        (tmp_path / "studies" / study / "params.yaml").write_text(yaml.safe_dump(part or {}))
    for study in ("a", "c"):
        (tmp_path / "studies" / study / "dvc.yaml").write_text("stages: {}\n")
    base, committed = {"studies": ["a", "b"]}, object()

    def split(raw, base_, committed_):
        assert raw == yaml.safe_load(text) and base_ is base and committed_ is committed
        return raw, parts

    monkeypatch.setattr("harness.core.config.split_params", split)

    def named(*changed):
        return provenance.committed_profile(tmp_path, list(changed), base, committed)

    assert named("params.yaml") == "experiments/profiles/p.yaml"
    assert named("studies/a/params.yaml", "studies/b/params.yaml", "studies/b/dvc.yaml", "params.yaml") == "experiments/profiles/p.yaml"
    assert named("studies/d/params.yaml") is None and named("code.py") is None and named("studies/a/notes.txt") is None
    # a good change first never excuses a bad one after it
    assert named("params.yaml", "code.py") is None
    assert named("studies/a/params.yaml", "code.py") is None and named("studies/b/dvc.yaml", "code.py") is None
    (tmp_path / "studies" / "c" / "params.yaml").write_text("other: 2\n")  # holds another value than the profile's part
    assert named("studies/c/params.yaml") is None and named() is None  # changed in the tree or left at the commit's
    (tmp_path / "studies" / "c" / "params.yaml").write_text("{}\n")
    (tmp_path / "studies" / "b" / "dvc.yaml").write_text("stages: {}\n")
    assert named("studies/b/dvc.yaml") is None  # a study the profile holds nothing of keeps its pipeline
    (tmp_path / "studies" / "b" / "dvc.yaml").unlink()
    (tmp_path / "studies" / "a" / "dvc.yaml").unlink()
    assert named("studies/a/dvc.yaml") is None  # a study the profile holds part of loses its pipeline
    (tmp_path / "studies" / "a" / "dvc.yaml").write_text("stages: {}\n")
    assert named() == "experiments/profiles/p.yaml"
    (tmp_path / "studies" / "a" / "params.yaml").unlink()
    assert named("studies/a/params.yaml") is None  # removed, not written


def test_a_profile_laid_out_by_run_profile_is_committed_input_in_a_real_repository(repo):
    """End to end through git: a project whose params.yaml lists a study, laid out for a profile by run-profile's own
    code, records the profile as its params (the study's key paths read from the study's committed params at HEAD);
    the study's params edited, staged, or left at the commit's values where the profile sets others, is a change."""
    from harness.commands.run_profile import lay_out

    (repo / "params.yaml").write_text("studies: [a]\nseeds: [0]\n")
    (repo / "studies" / "a").mkdir(parents=True)
    (repo / "studies" / "a" / "params.yaml").write_text("extra:\n  k: 1\n")
    (repo / "studies" / "a" / "dvc.yaml").write_text("stages: {}\n")
    (repo / "experiments" / "profiles").mkdir(parents=True)
    profile = repo / "experiments" / "profiles" / "p.yaml"
    profile.write_text("profile: p\nstudies: [a]\nseeds: [0, 1]\nextra:\n  k: 5\n")
    git(repo, "add", "-A")
    git(repo, "commit", "-qm", "a study and a profile")
    head = git(repo, "rev-parse", "HEAD")
    lay_out(repo, profile)
    assert (repo / "studies" / "a" / "params.yaml").read_text() == "extra:\n  k: 5\n"
    laid_out = {"sha": head, "dirty": False, "params_from": "experiments/profiles/p.yaml"}
    assert provenance.git_state(repo) == laid_out
    (repo / "studies" / "a" / "params.yaml").write_text("extra:\n  k: 6\n")
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}
    git(repo, "add", "studies/a/params.yaml")
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}
    git(repo, "reset", "-q")
    lay_out(repo, profile)
    assert provenance.git_state(repo) == laid_out
    git(repo, "checkout", "-q", "--", "studies/a/params.yaml")  # the commit's k: 1 beside a profile that says 5
    assert provenance.git_state(repo) == {"sha": head, "dirty": True}
