"""docs/extending.md's recipes, followed as written: the method and the claim are copied out of the guide
into a tmp_path and run, without touching the harness's code or the repository's claims."""

from __future__ import annotations

import importlib
import re

import pytest
import yaml

from harness.claims.engine import judge_all
from harness.claims.loading import load_claims
from harness.claims.measures import Context
from harness.config import parse_params
from harness.registry import METHODS
from tests.conftest import ROOT, set_runs
from tests.test_methods import check_method_contract

GUIDE = ROOT / "docs" / "extending.md"


def recipe(section: str, language: str) -> str:
    """The first ``language`` code block under the guide's ``## <section>`` heading."""
    text = GUIDE.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", body, re.S).group(1)


@pytest.fixture
def own_registry(monkeypatch):
    """What a test registers leaves with it: the registry gets a copy of its entries for the test."""
    METHODS.names()  # load the package's members first, so the copy holds them
    monkeypatch.setattr(METHODS, "_items", dict(METHODS._items))


def test_a_method_added_as_the_guide_says_passes_the_method_contract(tiny_raw, prepared, tmp_path, monkeypatch, own_registry):
    (tmp_path / "guide_ln_tuning.py").write_text(recipe("A method", "python"))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module("guide_ln_tuning")
    assert "ln_tuning" in METHODS.names()
    run = yaml.safe_load(recipe("A method", "yaml"))["train"]
    params = parse_params(set_runs(tiny_raw, run))
    check_method_contract(params, "ln_tuning", prepared, tmp_path / "artifact")


def test_a_claim_added_as_the_guide_says_validates_and_can_go_either_way(tmp_path):
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir()
    (claims_dir / "others.yaml").write_text(recipe("A claim", "yaml"))
    (claim,) = load_claims(claims_dir, ROOT)

    def verdict(ia3: float, lora: float) -> str:
        runs = {run: {"train": {"seeds": {"0": {"trainable_params": n}}}} for run, n in (("ia3", ia3), ("lora", lora))}
        return judge_all([claim], Context(profile="smoke", runs=runs, paperscale=None))[0]["verdict"]

    assert verdict(ia3=60_000, lora=150_000) in ("reproduced", "exceeded")
    assert verdict(ia3=200_000, lora=150_000) == "not reproduced"
