"""docs/extending.md's recipes, followed as written: each code and YAML block is copied out of the guide into
a tmp_path and run, without touching the harness's code, claims or profiles."""

from __future__ import annotations

import copy
import importlib
import re
import shutil
import sys

import pytest
import yaml

from harness.claims.engine import judge_all
from harness.claims.loading import load_claims
from harness.claims.measures import Context
from harness.core.config import parse_params
from harness.core.registry import GENERATION_METRICS, METHODS, METRICS, SOURCES
from harness.stages import prepare as prepare_stage
from harness.stages.common import load_prepared
from tests.conftest import ROOT, set_runs, write_params, write_project_params
from tests.test_methods import check_method_contract

GUIDE = ROOT / "docs" / "extending.md"


def recipe(section: str, language: str, index: int = 0) -> str:
    """The ``index``-th ``language`` code block under the guide's ``## <section>`` heading."""
    text = GUIDE.read_text()
    body = text.split(f"\n## {section}\n", 1)[1].split("\n## ", 1)[0]
    return re.findall(rf"```{language}\n(.*?)```", body, re.S)[index]


@pytest.fixture
def own_registry(monkeypatch):
    """What a test registers leaves with it: each registry gets a copy of its entries for the test."""
    for registry in (METHODS, SOURCES, METRICS, GENERATION_METRICS):
        registry.names()  # load the package's members first, so the copy holds them
        monkeypatch.setattr(registry, "_items", dict(registry._items))


def add_module(tmp_path, monkeypatch, name: str, section: str) -> None:
    """Save the section's code block as ``name``.py (the file the guide says to add) and import it."""
    (tmp_path / f"{name}.py").write_text(recipe(section, "python"))
    monkeypatch.syspath_prepend(str(tmp_path))
    monkeypatch.delitem(sys.modules, name, raising=False)  # registers again into this test's registry copy
    importlib.import_module(name)


@pytest.mark.parametrize("section, module, name", [("A method", "guide_dora", "dora"),
                                                   ("A method with its own settings", "guide_ln_tuning", "ln_tuning")])
def test_a_method_added_as_the_guide_says_passes_the_method_contract(tiny_raw, prepared, tmp_path, monkeypatch, own_registry,
                                                                     section, module, name):
    add_module(tmp_path, monkeypatch, module, section)
    assert name in METHODS.names() and METHODS.get(name).name == name
    run = yaml.safe_load(recipe(section, "yaml"))["train"]
    params = parse_params(set_runs(tiny_raw, run))
    check_method_contract(params, name, prepared, tmp_path / "artifact")


def test_dora_as_the_guide_adds_it_is_lora_with_magnitude_vectors(tiny_raw, prepared, tmp_path, monkeypatch, own_registry):
    """The DoRA recipe is DoRA, not LoRA under another name: peft built DoRA layers, which train LoRA's matrices plus
    one magnitude per output feature of every adapted module."""
    add_module(tmp_path, monkeypatch, "guide_dora", "A method")
    guide = yaml.safe_load(recipe("A method", "yaml"))
    tiny_raw["methods"].update(guide["methods"])
    params = parse_params(set_runs(tiny_raw, {"lora": {"method": "lora"}, **guide["train"]}))
    assert (params.train["dora"].r, params.train["dora"].lr) == (8, 5.0e-4)  # from its entry under methods
    counts = {}
    for run in ("lora", "dora"):
        method = METHODS.get(run)()
        model = method.prepare(method.base_model(params.model, 2, params.train[run]), params.train[run], total_steps=6)
        counts[run] = sum(p.numel() for p in model.parameters() if p.requires_grad)
        magnitudes = [n for n, _ in model.named_parameters() if "lora_magnitude_vector" in n]
        assert bool(magnitudes) == (run == "dora")
    assert counts["dora"] - counts["lora"] == 12 * 384  # query and value in 6 layers, 384 outputs each


@pytest.mark.parametrize("section, index, file, field, good, bad", [
    ("A claim", 0, "train", "trainable_params", {"ia3": 60_000, "lora": 150_000}, {"ia3": 200_000, "lora": 150_000}),
    ("A method", 1, "eval", "metrics", {"dora": 90.0, "lora": 85.0}, {"dora": 80.0, "lora": 85.0}),
], ids=["atlas-claim", "dora-claim"])
def test_a_claim_added_as_the_guide_says_validates_and_can_go_either_way(repo_params, tmp_path, monkeypatch, own_registry,
                                                                        section, index, file, field, good, bad):
    """The claim loads against a project holding the guide's method and runs (every run it names must exist), and
    one measurement decides it each way."""
    add_module(tmp_path, monkeypatch, "guide_dora", "A method")
    project = copy.deepcopy(repo_params)
    guide = yaml.safe_load(recipe("A method", "yaml"))
    project["methods"].update(guide["methods"])
    project["train"].update(guide["train"])
    write_project_params(tmp_path, project)
    (tmp_path / "experiments").mkdir()
    for spec in ("paperscale.yaml", "components.yaml"):  # what a claim's references are checked against
        shutil.copy(ROOT / "experiments" / spec, tmp_path / "experiments" / spec)
    claims_dir = tmp_path / "claims"
    claims_dir.mkdir()
    (claims_dir / "others.yaml").write_text(recipe(section, "yaml", index))
    (claim,) = load_claims(claims_dir, tmp_path)

    def verdict(values: dict[str, float]) -> str:
        def seed(v: float) -> dict:
            return {"trainable_params": v} if field == "trainable_params" else {"metrics": {"accuracy": v}}
        runs = {run: {file: {"seeds": {str(s): seed(v + 0.1 * s) for s in range(5)}}} for run, v in values.items()}
        return judge_all([claim], Context(profile="smoke", runs=runs, paperscale=None))[0]["verdict"]

    assert verdict(good) in ("reproduced", "exceeded")
    assert verdict(bad) == "not reproduced"


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


def test_a_stage_added_as_the_guide_says_is_a_command_and_writes_what_its_entry_declares(workspace, monkeypatch):
    """The stage module alone makes ``harness seed-spread`` a command; run on the committed LoRA results it writes,
    where its dvc.yaml entry declares, each seed's metric, their spread and the seeds a +-1 point interval needs."""
    import harness.stages
    from harness.claims.stats import summarize
    from harness.core.command_table import stage_commands
    from harness.core.errors import HarnessError
    from harness.core.io import read_json
    from harness.core.paths import result_file

    folder = workspace / "guide_stages"
    folder.mkdir()
    (folder / "seed_spread.py").write_text(recipe("A stage", "python"))
    harness.stages.__path__.append(str(folder))
    try:
        assert stage_commands()["seed-spread"] == "harness.stages.seed_spread"
        stage = importlib.import_module("harness.stages.seed_spread")
        committed = ROOT / "results" / "eval" / "lora.json"
        result_file("eval", "lora").parent.mkdir(parents=True)
        result_file("eval", "lora").write_text(committed.read_text())
        stage.main(["lora"])
        entry = yaml.safe_load(recipe("A stage", "yaml"))["stages"]["seed_spread"]["do"]
        assert entry["cmd"] == "harness seed-spread ${key}"
        assert entry["deps"] == [str(result_file("eval", "${key}"))]
        (out,) = [next(iter(o)) for o in entry["outs"]]
        written = read_json(out.replace("${key}", "lora"))
        seeds = read_json(committed)["seeds"]
        assert written["values"] == [seeds[s]["metrics"]["accuracy"] for s in sorted(seeds, key=int)]
        assert written["std"] == pytest.approx(summarize(written["values"])["std"])
        n, sd = written["seeds_for_1_point"], written["std"]
        from scipy import stats

        def half(k: int) -> float:
            return stats.t.ppf(0.975, k - 1) * sd / k ** 0.5

        assert half(n) <= 1.0 and (n == 2 or half(n - 1) > 1.0)
        assert "git" in written["provenance"]
        with pytest.raises(HarnessError, match="usage: harness seed-spread <run>"):
            stage.main([])
    finally:
        harness.stages.__path__.remove(str(folder))
        sys.modules.pop("harness.stages.seed_spread", None)


def test_a_study_added_as_the_guide_says_adds_its_runs_to_the_params(repo_params, tmp_path):
    from harness.core.config import load_params, read_yaml

    write_project_params(tmp_path, repo_params)
    (tmp_path / "studies" / "rank16").mkdir()
    (tmp_path / "studies" / "rank16" / "params.yaml").write_text(recipe("A study", "yaml"))
    root = read_yaml(tmp_path / "params.yaml")
    root["studies"].append("rank16")
    write_params(tmp_path, root)
    params = load_params(tmp_path / "params.yaml")
    assert params.train["lora_r16"].r == 16 and params.train["lora_r16"].method == "lora"
    assert set(repo_params["train"]) < set(params.train)


def test_a_generation_metric_added_as_the_guide_says_scores_generated_text(tmp_path, monkeypatch, own_registry):
    add_module(tmp_path, monkeypatch, "guide_chrf", "A generation metric")
    metric = GENERATION_METRICS.get("chrf")()
    references = [["the cafe is cheap", "a cheap cafe near the river"], ["it serves french food"]]
    assert metric.corpus(["the cafe is cheap", "it serves french food"], references) == pytest.approx(100.0)
    assert metric.corpus(["a pub", "chinese food"], references) < 50
