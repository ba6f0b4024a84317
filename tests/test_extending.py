"""docs/extending.md's recipes, followed as written: each code and YAML block is copied out of the guide into
a tmp_path and run, without touching the harness's code, claims or profiles."""

from __future__ import annotations

import copy
import importlib
import re

import pytest
import yaml

from harness.claims.engine import judge_all
from harness.claims.loading import load_claims
from harness.claims.measures import Context
from harness.core.config import parse_params
from harness.core.registry import METHODS, METRICS, SOURCES
from harness.stages import prepare as prepare_stage
from harness.stages.common import load_prepared
from tests.conftest import ROOT, set_runs, write_params
from tests.test_methods import check_method_contract

GUIDE = ROOT / "docs" / "extending.md"


def recipe(section: str, language: str) -> str:
    """The first ``language`` code block under the guide's ``## <section>`` heading."""
    text = GUIDE.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.search(rf"```{language}\n(.*?)```", body, re.S).group(1)


@pytest.fixture
def own_registry(monkeypatch):
    """What a test registers leaves with it: each registry gets a copy of its entries for the test."""
    for registry in (METHODS, SOURCES, METRICS):
        registry.names()  # load the package's members first, so the copy holds them
        monkeypatch.setattr(registry, "_items", dict(registry._items))


def add_module(tmp_path, monkeypatch, name: str, section: str) -> None:
    """Save the section's code block as ``name``.py (the file the guide says to add) and import it."""
    (tmp_path / f"{name}.py").write_text(recipe(section, "python"))
    monkeypatch.syspath_prepend(str(tmp_path))
    importlib.import_module(name)


def test_a_method_added_as_the_guide_says_passes_the_method_contract(tiny_raw, prepared, tmp_path, monkeypatch, own_registry):
    add_module(tmp_path, monkeypatch, "guide_ln_tuning", "A method")
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


def test_a_data_source_added_as_the_guide_says_feeds_the_prepare_stage(tiny_raw, workspace, monkeypatch, own_registry):
    from datasets import Dataset, DatasetDict

    add_module(workspace, monkeypatch, "guide_saved", "A data source")
    rows = lambda n: Dataset.from_dict({"sentence": [f"sentence {i} is {'good' if i % 2 else 'bad'}" for i in range(n)], "label": [i % 2 for i in range(n)]})  # noqa: E731
    DatasetDict({"train": rows(80), "test": rows(20)}).save_to_disk(str(workspace / "my_task"))
    data = yaml.safe_load(recipe("A data source", "yaml"))["data"]
    tiny_raw["data"].update(source=data["source"], saved={**data["saved"], "path": str(workspace / "my_task")})
    summary = prepare_stage.run(parse_params(tiny_raw))
    splits, _ = load_prepared()
    assert len(splits["test"]) == 20 and len(splits["validation"]) == tiny_raw["data"]["validation_size"]
    assert any("my_task" in f for f in summary["file_sha256"]), "the saved files' hashes are recorded"


def test_a_metric_added_as_the_guide_says_is_computed_and_accepted_by_params(tiny_raw, tmp_path, monkeypatch, own_registry):
    add_module(tmp_path, monkeypatch, "guide_balanced_accuracy", "A task metric")
    assert METRICS.get("balanced_accuracy")([1, 1, 1, 0], [1, 1, 0, 0]) == pytest.approx(75.0)  # recalls 1/2 and 2/2
    tiny_raw["data"]["metrics"] = yaml.safe_load(recipe("A task metric", "yaml"))["data"]["metrics"]
    assert parse_params(tiny_raw).data.metrics == ["accuracy", "balanced_accuracy"]


def test_a_profile_added_as_the_guide_says_validates_and_claims_can_name_it(repo_params, tmp_path):
    from harness.claims.loading import known_profiles, profile_runs
    from harness.core.config import load_params

    profile = copy.deepcopy(repo_params)
    for key, value in yaml.safe_load(recipe("A profile", "yaml")).items():
        profile[key] = {**profile[key], **value} if isinstance(value, dict) else value
    (tmp_path / "experiments" / "profiles").mkdir(parents=True)
    write_params(tmp_path, repo_params)
    path = tmp_path / "experiments" / "profiles" / "smoke-sst2.yaml"
    path.write_text(yaml.safe_dump(profile, sort_keys=False))
    assert load_params(path).data.source == "local"
    assert "smoke-sst2" in known_profiles(tmp_path)
    assert profile_runs("smoke-sst2", tmp_path)["train"] == set(repo_params["train"])
