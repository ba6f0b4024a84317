"""The tune stage: one learning-rate budget per run, chosen on validation, never reading the test split."""

import shutil

import pytest

from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.stages import prepare, train, tune
from harness.tuning import choose
from tests.conftest import set_runs


def test_tune_never_opens_the_test_split_and_feeds_train(workspace, tiny_raw):
    """With the prepared test split deleted the tune stage still runs (it cannot have read it), every grid
    point is the run's default times a factor, and the train stage trains at the chosen one."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    tiny_raw["tuning"]["factors"] = [1.0, 3.0]
    params = parse_params(tiny_raw)
    prepare.run(params)
    shutil.rmtree(workspace / "data" / "prepared" / "splits" / "test")
    result = tune.run(params, "lora")
    default = tiny_raw["loop"]["lr"]
    assert [p["lr"] for p in result["grid"]] == pytest.approx([default, 3 * default])
    assert all(0 <= p["validation"] <= 100 for p in result["grid"]) and result["split"] == "validation"
    assert result["chosen_lr"] == result["grid"][choose(result["grid"], [1.0, 3.0])]["lr"]
    assert set(result["provenance"]["data"]) == {"train", "validation"}
    with pytest.raises(HarnessError, match="no test split"):  # the stages that report do need it
        train.run(params, "lora")
    prepare.run(params)
    assert train.run(params, "lora")["lr"] == result["chosen_lr"]


def test_train_without_a_tuning_result_names_the_stage(workspace, tiny_raw):
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    params = parse_params(tiny_raw)
    prepare.run(params)
    with pytest.raises(HarnessError, match=r"results/tune/lora.json: no tuning result for run lora; .*dvc repro tune@lora"):
        train.run(params, "lora")


def test_one_grid_point_trains_nothing_and_keeps_the_default(workspace, tiny_raw, monkeypatch):
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    params = parse_params(tiny_raw)  # the shrunk config tunes with factors [1.0]
    prepare.run(params)
    monkeypatch.setattr(tune, "fit_seed", lambda *a, **k: pytest.fail("trained a single grid point"))
    result = tune.run(params, "lora")
    assert result["chosen_lr"] == tiny_raw["loop"]["lr"] and result["grid"][0]["not_trained"] == "the only grid point"


def test_a_method_without_steps_records_nothing_to_tune(workspace, tiny_raw):
    set_runs(tiny_raw, {"knn": {"method": "knn", "k": 4}})
    params = parse_params(tiny_raw)
    prepare.run(params)
    result = tune.run(params, "knn")
    assert result["grid"] == [] and result["chosen_lr"] is None
    assert read_json(workspace / "results" / "tune" / "knn.json")["note"].startswith("no gradient steps")


def point(score):
    return {"validation": score}


def test_choice_best_score_then_the_factor_nearest_one():
    factors = [0.3, 1.0, 3.0, 10.0]
    assert choose([point(80), point(85), point(90), point(70)], factors) == 2
    assert choose([point(90), point(85), point(90), point(90)], factors) == 2  # 3 is nearer 1 than 0.3 or 10
    assert choose([point(85), point(85), point(80), point(80)], [1 / 3, 1.0, 3.0, 10.0]) == 1  # the default wins a tie
    assert choose([point(None), point(50), point(None), point(None)], factors) == 1  # diverged points never win
    with pytest.raises(HarnessError, match="every learning rate of the grid diverged"):
        choose([point(None)] * 4, factors)


@pytest.mark.parametrize("factors, message", [
    ([3.0, 10.0], "must include 1"),
    ([1.0, 1.0], "must be distinct"),
    ([1.0, -3.0], "greater than 0"),
])
def test_factors_are_validated(tiny_raw, factors, message):
    tiny_raw["tuning"]["factors"] = factors
    with pytest.raises(HarnessError, match=rf"params.yaml: tuning\..*{message}|params.yaml: tuning: .*{message}"):
        parse_params(tiny_raw)


def test_status_lists_every_grid_point_and_the_choice():
    from harness.stages.tabulate import render_protocol

    tuning = {"lora": {"method": "lora", "default_lr": 5e-4, "chosen_lr": 1.5e-3, "seed": 0, "seeds": [0, 1, 2, 3, 4],
                       "grid": [[5e-4, 69.9], [1.5e-3, 79.9], [5e-3, None]]},
              "knn": {"method": "knn", "default_lr": None, "chosen_lr": None, "seed": 0, "seeds": [0, 1, 2], "grid": []}}
    text = "\n".join(render_protocol(tuning, "accuracy"))
    assert "| lora | lora | 0.0005 | 0.0005: 69.9, 0.0015: 79.9, 0.005: diverged | **0.0015** | 5 |" in text
    tuning["lora"]["chosen_lr"] = 5e-3
    assert "**0.005** (grid edge) | 5 |" in "\n".join(render_protocol(tuning, "accuracy"))
    assert "| knn | knn | — | no gradient steps: nothing to tune | — | 3 |" in text
    assert "validation accuracy at each lr" in text
