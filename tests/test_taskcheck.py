"""The default task's own checks (harness/report/task_checks.py): each can fail, and the committed spec names real runs."""

import json

import pytest

from harness.core.config import parse_params
from harness.core.paths import TASK_CHECKS
from harness.report import task_checks
from tests.conftest import ROOT


def runs(**scores: list[float]) -> dict:
    return {r: {"eval": {"seeds": {str(i): {"metrics": {"accuracy": v}} for i, v in enumerate(vals)}}} for r, vals in scores.items()}


def spec(**over) -> task_checks.TaskChecks:
    ref = {"results": "ref", "label": "real", "command": "make it", "runs": ["a", "b", "c", "d"], "min_spearman": 0.8}
    return task_checks.TaskChecks(**{"ceiling": 93.0, "peft_runs": ["b", "c"], "separated": [("a", "b")], "reference": task_checks.Reference(**ref), **over})


def test_ceiling_holds_below_and_fails_above():
    assert task_checks.ceiling_check(runs(b=[90, 91], c=[80, 81]), spec(), "accuracy")["verdict"] == "holds"
    failed = task_checks.ceiling_check(runs(b=[93, 94], c=[80, 81]), spec(), "accuracy")
    assert failed["verdict"] == "fails" and failed["top_run"] == "b" and failed["top_mean"] == 93.5


def test_separation_needs_the_paired_interval_above_zero():
    clear = task_checks.separation_check(runs(a=[90, 91, 92], b=[85, 86, 87.5]), "a", "b", "accuracy")
    assert clear["verdict"] == "holds" and clear["diff"]["mean"] == pytest.approx(4.833, abs=1e-3)
    noisy = task_checks.separation_check(runs(a=[90, 85, 92], b=[86, 88, 87]), "a", "b", "accuracy")
    assert noisy["verdict"] == "fails"  # mean +2 but the interval straddles 0
    assert task_checks.separation_check(runs(a=[90]), "a", "b", "accuracy")["verdict"] == "not run"


def write_reference(root, scores: dict[str, list[float]]):
    (root / "ref" / "eval").mkdir(parents=True)
    for run, vals in scores.items():
        (root / "ref" / "eval" / f"{run}.json").write_text(json.dumps(runs(x=vals)["x"]["eval"]))
    prov = {"git": {"sha": "abc", "dirty": False}}
    (root / "ref" / "prepare.json").write_text(json.dumps({"source": "local", "sizes": {}, "file_sha256": {}, "provenance": prov}))


def test_ranking_agreement_holds_or_fails_on_rho(tmp_path):
    write_reference(tmp_path, {"a": [90], "b": [85], "c": [80], "d": [70]})
    agree = task_checks.rank_check(runs(a=[80], b=[75], c=[74], d=[50]), spec(), "accuracy", tmp_path)
    assert agree["verdict"] == "holds" and agree["rho"] == pytest.approx(1.0)
    swapped = task_checks.rank_check(runs(a=[50], b=[75], c=[74], d=[80]), spec(), "accuracy", tmp_path)
    assert swapped["verdict"] == "fails" and swapped["rho"] < 0
    lines = "\n".join(task_checks.render({"ceiling": {"verdict": "not run", "why": "x"}, "separated": [], "ranking": swapped}, "accuracy"))
    assert "Spearman's rho -0.800 over 4 methods" in lines and "**fails**" in lines and "| a | 50.00 | 90.00 |" in lines


def test_missing_reference_says_not_run_and_the_command(tmp_path):
    result = task_checks.rank_check(runs(a=[80]), spec(), "accuracy", tmp_path)
    assert result["verdict"] == "not run" and result["command"] == "make it"
    text = "\n".join(task_checks.render({"ceiling": {"verdict": "not run", "why": "x"}, "separated": [], "ranking": result}, "accuracy"))
    assert "**not run** (no committed reference results at ref); run: `make it`" in text


def test_committed_spec_names_configured_runs(repo_params):
    params = parse_params(repo_params)
    checks = task_checks.load_spec(ROOT / TASK_CHECKS)
    named = set(checks.peft_runs) | {r for pair in checks.separated for r in pair} | set(checks.reference.runs)
    assert named <= set(params.train), named - set(params.train)
    assert "full" not in checks.peft_runs and "knn" not in checks.peft_runs
