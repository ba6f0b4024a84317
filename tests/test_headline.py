"""results/headline.json: the one DVC metrics file, small enough that two experiments compare on one screen."""

from __future__ import annotations

import copy
import json
import os
import shutil
import subprocess

import pytest
import yaml

from harness.core.io import read_json
from harness.report.headline import headline, study_headline, values

from .conftest import ROOT

RESULTS = ROOT / "results"


def test_the_committed_headline_is_status_json_summarised():
    status = read_json(RESULTS / "status.json")
    assert read_json(RESULTS / "headline.json") == headline(status)


def test_the_default_runs_with_their_primary_metric_and_interval_and_verdict_counts_in_at_most_20_values():
    status = read_json(RESULTS / "status.json")
    head = headline(status)
    default = [r for r in status["runs"] if r["pipeline"] == "default"]
    assert [r["run"] for r in default] == ["lora", "adalora", "loraplus", "full"]
    assert list(head)[:len(default)] == [r["run"] for r in default]
    for r in default:
        row = head[r["run"]]
        assert set(row) == {r["metric"], "ci95"}
        score = r["score"]
        assert row["ci95"] == pytest.approx(score["ci_high"] - score["mean"], abs=0.005)
        assert score["ci_high"] - score["mean"] == pytest.approx(score["mean"] - score["ci_low"])  # symmetric: one number says it
    assert set(head) == {*(r["run"] for r in default), "claims", "provenance"}  # no study's run
    assert sum(head["claims"].values()) == len(status["claims"])
    assert values(head) <= 20


def test_dvc_declares_only_the_headline_as_metrics():
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    declared = [next(iter(m)) if isinstance(m, dict) else m
                for stage in stages.values() for m in stage.get("do", stage).get("metrics", [])]
    assert declared == ["results/headline.json"]


def test_a_study_headline_holds_its_own_runs_the_claims_read_on_it_and_its_freshness():
    status = {"runs": [{"run": "a", "pipeline": "default", "metric": "accuracy", "score": {"mean": 80.0, "ci_low": 79.0, "ci_high": 81.0}},
                       {"run": "b", "pipeline": "sweep", "metric": "accuracy", "score": {"mean": 70.123, "ci_low": 69.0, "ci_high": 71.0}}],
              "claims": [{"id": "x", "verdict": "reproduced"}, {"id": "y", "verdict": "not reproduced"}, {"id": "z", "verdict": "reproduced"}],
              "stale_studies": {"sweep": {"since": "abc1234", "stale": ["s"], "changed": []}},
              "provenance": {"git": {"sha": "0123456789abcdef", "dirty": False}}}
    head = study_headline("sweep", status, {"x", "y"})
    assert head["b"] == {"accuracy": 70.12, "ci95": 0.88} and "a" not in head
    assert head["claims"]["reproduced"] == 1 and head["claims"]["not_reproduced"] == 1 and sum(head["claims"].values()) == 2
    assert head["stale_since"] == "abc1234" and study_headline("atlas", status, set())["stale_since"] is False


def test_each_study_has_its_headline_committed_beside_the_default_one():
    status = read_json(RESULTS / "status.json")
    studies = sorted(p.parent.name for p in (ROOT / "studies").glob("*/dvc.yaml"))
    assert sorted(p.stem for p in (RESULTS / "studies").glob("*.json")) == studies
    for study in studies:
        head = read_json(RESULTS / "studies" / f"{study}.json")
        runs = [r["run"] for r in status["runs"] if r["pipeline"] == study]
        assert set(head) == {*runs, "claims", "stale_since", "provenance"}
        assert (head["stale_since"] is False) == (study not in status["stale_studies"])
    assert sum(read_json(RESULTS / "studies" / "sweep.json")["claims"].values()) > 0  # the budget sweep's claims read it


@pytest.mark.slow
def test_dvc_exp_show_only_changed_compares_two_experiments_within_200_columns(tmp_path):
    """A baseline and an experiment that retrained one run (its lr changed, its scores and one verdict moved),
    as two commits of a repository holding the real params.yaml and the committed headline: the table
    ``dvc exp show --only-changed`` prints fits 200 characters, and shows what changed."""
    git = ["git", "-c", "user.name=t", "-c", "user.email=t@t", "-c", "commit.gpgsign=false"]
    for cmd in (["git", "init", "-q"], ["dvc", "init", "-q"]):
        subprocess.run(cmd, cwd=tmp_path, check=True)
    shutil.copy(ROOT / "params.yaml", tmp_path / "params.yaml")
    (tmp_path / "dvc.yaml").write_text(yaml.safe_dump({"stages": {"tabulate": {
        "cmd": "true", "params": ["train", "loop", "tuning"], "metrics": [{"results/headline.json": {"cache": False}}]}}}))
    base = read_json(RESULTS / "headline.json")
    (tmp_path / "results").mkdir()

    def commit(head, message):
        (tmp_path / "results" / "headline.json").write_text(json.dumps(head, indent=2))
        subprocess.run([*git, "add", "-A"], cwd=tmp_path, check=True)
        subprocess.run([*git, "commit", "-qm", message], cwd=tmp_path, check=True)

    commit(base, "baseline")
    params = yaml.safe_load((tmp_path / "params.yaml").read_text())
    params["train"]["lora"]["lr"] = 1e-3
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(params, sort_keys=False))
    changed = copy.deepcopy(base)
    lora = changed["lora"]
    for key in ("accuracy", "ci95"):
        lora[key] = round(lora[key] + 1.37, 2)
    changed["claims"]["inconclusive"] -= 1
    changed["claims"]["reproduced"] += 1
    changed["provenance"]["git"]["sha"] = "0123456789"  # the experiment ran at a later commit
    commit(changed, "lora at lr 1e-3")
    wide = {**os.environ, "COLUMNS": "1000"}  # a terminal wide enough that nothing wraps: the table's own width
    shown = subprocess.run(["dvc", "exp", "show", "--only-changed", "--no-pager", "-n", "2"], cwd=tmp_path, env=wide,
                           check=True, capture_output=True, text=True).stdout
    header = next(line for line in shown.splitlines() if "Experiment" in line)
    for column in ("train.lora.lr", "lora.accuracy", "lora.ci95", "claims.reproduced", "provenance.git.sha"):
        assert column in header
    assert "adalora" not in header
    assert max(map(len, shown.splitlines())) <= 200, shown
