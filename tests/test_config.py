import subprocess
import sys

import pytest

from harness.commands.validate import validated
from harness.core.config import load_params, parse_params
from harness.core.errors import HarnessError
from harness.core.registry import METHODS
from tests.conftest import ROOT


def test_repo_params_validate():
    params = validated(load_params(ROOT / "params.yaml"))
    assert params.profile == "smoke"
    assert {cfg.method for cfg in params.train.values()} >= {"lora", "adalora"}
    assert params.train["lora"].r == 8


@pytest.mark.parametrize("profile", sorted((ROOT / "experiments" / "profiles").glob("*.yaml")), ids=lambda p: p.stem)
def test_shipped_profiles_validate(profile):
    params = validated(load_params(profile))
    assert params.profile == profile.stem, "a profile's name is its file name (claims name profiles)"
    assert params.train and len(params.seeds) >= 3


def error_of(raw) -> str:
    with pytest.raises(HarnessError) as err:
        validated(parse_params(raw))
    message = str(err.value)
    assert "\n" not in message
    return message


def test_unknown_top_level_key(tiny_raw):
    tiny_raw["trian"] = {}
    assert error_of(tiny_raw) == "params.yaml: trian: unknown key; allowed: causal, data, loop, methods, model, planted, profile, seeds, studies, sweep, train, truncate, tuning"


def test_unknown_nested_key_lists_allowed(tiny_raw):
    tiny_raw["train"]["lora"]["rank"] = 4
    message = error_of(tiny_raw)
    assert message.startswith("params.yaml: train.lora.rank: unknown key; allowed: ")
    assert "alpha" in message and "target_modules" in message


def test_unknown_loop_key(tiny_raw):
    tiny_raw["loop"]["learning_rate"] = 1e-3
    assert "loop.learning_rate: unknown key; allowed: " in error_of(tiny_raw)


def test_wrong_type_names_key_and_value(tiny_raw):
    tiny_raw["train"]["lora"]["r"] = "eight"
    message = error_of(tiny_raw)
    assert message.startswith("params.yaml: train.lora.r:") and "'eight'" in message


def test_out_of_range_value(tiny_raw):
    tiny_raw["loop"]["batch_size"] = 0
    assert "loop.batch_size" in error_of(tiny_raw)


@pytest.mark.parametrize(("key", "value", "said"), [
    ("gradient_accumulation_steps", 0, "loop.gradient_accumulation_steps"),
    ("precision", "fp8", "loop.precision"),
    ("report_to", ["tensorboard", "mlflow"], "loop.report_to"),
    ("checkpoint_every", -1, "loop.checkpoint_every"),
])
def test_training_loop_settings_are_checked(tiny_raw, key, value, said):
    tiny_raw["loop"][key] = value
    message = error_of(tiny_raw)
    assert said in message and repr(value if not isinstance(value, list) else value[1]).strip("'") in message


def test_unknown_method_names_its_key_and_the_closest(tiny_raw):
    tiny_raw["train"]["lora"]["method"] = "lorra"
    assert error_of(tiny_raw) == (f"params.yaml: train.lora.method: unknown method 'lorra'; closest: lora, qlora, adalora; "
                                  f"known: {', '.join(METHODS.names())}")


def test_a_run_starts_from_its_methods_entry_and_overrides_it(tiny_raw):
    """``methods.<method>``: what every run of the method starts from; the run's own keys win; the entry is checked as
    a run would be (its method by name, its keys by the method's class)."""
    tiny_raw["methods"]["lora"] = {"r": 6, "alpha": 12, "dropout": 0.0, "target_modules": ["query"]}
    tiny_raw["train"]["lora"] = {"method": "lora"}
    tiny_raw["train"]["lora_r2"] = {"method": "lora", "r": 2}
    params = parse_params(tiny_raw)
    assert (params.train["lora"].r, params.train["lora"].alpha, params.train["lora"].target_modules) == (6, 12, ["query"])
    assert (params.train["lora_r2"].r, params.train["lora_r2"].alpha) == (2, 12)
    tiny_raw["methods"]["lora"]["rank"] = 4
    assert error_of(tiny_raw).startswith("params.yaml: methods.lora.rank: unknown key; allowed: method, lr, track_every, seeds, r, ")
    tiny_raw["methods"]["lora"] = {"method": "lora"}
    assert error_of(tiny_raw) == "params.yaml: methods.lora.method: the entry's key names its method; remove the key"
    tiny_raw["methods"] = {"lorra": {}}
    assert error_of(tiny_raw).startswith("params.yaml: methods.lorra: unknown method 'lorra'; closest: lora")


def test_the_repository_runs_resolve_through_their_methods_entries(repo_params):
    """Every run of the default and its studies inherits its method's entry: a LoRA variant states only its rank."""
    params = parse_params(repo_params)
    assert repo_params["train"]["lora_r2"] == {"method": "lora", "r": 2}
    assert (params.train["lora_r2"].r, params.train["lora_r2"].alpha, params.train["lora_r2"].target_modules) == (2, 16, ["query", "value"])
    assert params.train["adalora_b2"].orth_reg_weight == 0.1 and params.train["adalora_b2"].lr == 8.0e-4


def test_every_method_a_run_uses_needs_an_entry_before_a_pipeline_runs(workspace, tiny_raw):
    """The tune, train and evaluate stages depend on ``methods.<method>`` (DVC refuses a missing parameter), so
    ``harness validate`` (and run-profile) names the missing entry; loading alone (a profile's old results) does not."""
    del tiny_raw["methods"]["full"]
    params = parse_params(tiny_raw)
    assert params.train["full"].lr is None  # nothing inherited
    with pytest.raises(HarnessError, match=r"^params.yaml: methods.full: missing; every method a run uses needs an entry"):
        validated(params)


def test_a_study_cannot_set_what_runs_start_from(tmp_path):
    (tmp_path / "studies" / "extra").mkdir(parents=True)
    (tmp_path / "studies" / "extra" / "params.yaml").write_text("methods:\n  lora: {r: 2}\n")
    (tmp_path / "params.yaml").write_text("studies: [extra]\n")
    with pytest.raises(HarnessError, match=r"studies/extra/params.yaml: methods: set in .*params.yaml only"):
        load_params(tmp_path / "params.yaml")


def test_unknown_source_and_metric(tiny_raw):
    tiny_raw["data"]["source"] = "glue"
    assert "unknown data source 'glue'; known: hub, local, synthetic_sentiment" == error_of(tiny_raw)
    tiny_raw["data"]["source"] = "synthetic_sentiment"
    tiny_raw["data"]["metrics"] = ["acc"]
    assert error_of(tiny_raw).startswith("unknown metric 'acc'; closest: accuracy; known: accuracy")


def test_adalora_budget_must_shrink(tiny_raw):
    tiny_raw["train"]["adalora"].update(init_r=4, target_r=8)
    assert "must not exceed init_r" in error_of(tiny_raw)


def test_steps_xor_epochs(tiny_raw):
    tiny_raw["loop"]["epochs"] = 2
    assert "exactly one of max_steps and epochs" in error_of(tiny_raw)


def test_cli_bad_params_one_line_nonzero(tmp_path, tiny_raw):
    from tests.conftest import write_params

    tiny_raw["seeds"] = "zero"
    path = write_params(tmp_path, tiny_raw)
    proc = subprocess.run([sys.executable, "-m", "harness.core.cli", "validate", str(path)], capture_output=True, text=True)
    assert proc.returncode == 2
    lines = [l for l in proc.stderr.splitlines() if l.startswith("error:")]
    assert lines == [f"error: {path}: seeds: expected a non-empty list of integers (got 'zero')"]


def test_truncate_runs_must_exist(tiny_raw):
    tiny_raw["truncate"] = {"runs": ["lora", "nope"]}
    assert error_of(tiny_raw).startswith("params.yaml: truncate.runs: 'nope' is not a run under train; runs: lora, adalora, loraplus, ")


def test_sweep_runs_must_exist(tiny_raw):
    tiny_raw["sweep"] = {"lora": ["lora_r2", "lora_r3"]}
    assert error_of(tiny_raw).startswith("params.yaml: sweep.lora: 'lora_r3' is not a run under train; runs: lora, ")


def test_planted_tasks_are_validated(tiny_raw):
    tiny_raw["planted"]["tune_task"] = "none"
    assert error_of(tiny_raw) == "params.yaml: planted.tune_task: 'none' is not a task that plants rank; tasks: low, medium, high"
    tiny_raw["planted"]["tune_task"] = "high"
    tiny_raw["planted"]["tasks"] = {"none": {}, "empty": {"layer.1.attention.self.value": 0}}
    assert error_of(tiny_raw) == "params.yaml: planted.tasks: no task plants rank; give at least one task a module with rank > 0"
    tiny_raw["planted"]["tasks"] = {"high": {"layer.1.attention.self.value": 1}}
    tiny_raw["planted"]["student"]["method"] = "lora"
    assert error_of(tiny_raw).startswith("params.yaml: planted.student.method: 'lora'; the benchmark judges the rank allocator")
    tiny_raw["planted"]["student"]["method"] = "adalora"
    tiny_raw["planted"]["student"]["init_r"] = "four"
    assert error_of(tiny_raw).startswith("params.yaml: planted.student.init_r:")


def test_fixed_budget_adalora_needs_equal_ranks(tiny_raw):
    tiny_raw["train"]["adalora"].update(allocate=False, init_r=4, target_r=2)
    assert error_of(tiny_raw) == "params.yaml: train.adalora: allocate: false keeps a fixed budget, so target_r (2) must equal init_r (4)"


def test_studies_add_to_the_default_params_and_split_back_exactly(tmp_path):
    """params.yaml with its studies merged is what every stage reads; split_params lays a complete params dict
    out the same way again (what run-profile and the pipeline tests write): the committed files come back."""
    from harness.core.config import read_yaml, split_params, study_files, with_studies

    base = read_yaml(ROOT / "params.yaml")
    merged = with_studies(base, ROOT / "params.yaml")
    assert set(merged["train"]) > set(base["train"]) and "planted" in merged and "planted" not in base
    root, studies = split_params({k: v for k, v in merged.items() if k != "studies"}, base, study_files(ROOT))
    assert root == base
    assert studies == {s: read_yaml(ROOT / "studies" / s / "params.yaml") for s in base["studies"]}
    # a profile holding nothing of a study: that study has no part, and is not listed
    lean = {k: v for k, v in merged.items() if k not in ("studies", "planted")}
    root, studies = split_params(lean, base, study_files(ROOT))
    assert studies["planted"] is None and "planted" not in root["studies"]


def test_a_study_setting_a_key_the_default_holds_is_refused(tmp_path):
    from harness.core.config import read_yaml, with_studies

    (tmp_path / "studies" / "x").mkdir(parents=True)
    (tmp_path / "studies" / "x" / "params.yaml").write_text("train:\n  lora: {method: lora, r: 4}\n")
    (tmp_path / "params.yaml").write_text("studies: [x]\ntrain:\n  lora: {method: lora, r: 8}\n")
    with pytest.raises(HarnessError, match=r"studies/x/params.yaml: train.lora.method: already set in .*params.yaml; a setting lives in one file"):
        with_studies(read_yaml(tmp_path / "params.yaml"), tmp_path / "params.yaml")
    (tmp_path / "params.yaml").write_text("studies: [y]\n")
    with pytest.raises(HarnessError, match=r"studies: no study 'y' .*; studies: x"):
        with_studies(read_yaml(tmp_path / "params.yaml"), tmp_path / "params.yaml")
    (tmp_path / "studies" / "x" / "params.yaml").write_text("loop: {max_steps: 3}\n")
    (tmp_path / "params.yaml").write_text("studies: [x]\n")
    with pytest.raises(HarnessError, match=r"loop: set in .*params.yaml only"):
        with_studies(read_yaml(tmp_path / "params.yaml"), tmp_path / "params.yaml")
