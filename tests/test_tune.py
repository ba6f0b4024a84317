"""The tune stage: one learning-rate budget per run, chosen on validation, never reading the test split."""

import math
import shutil

import pytest

from harness.core.config import TuningConfig, parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.engine.grid_search import Axis, choose, edge_of, search
from harness.stages import prepare, train, tune
from tests.conftest import set_runs


def test_tune_never_opens_the_test_split_and_feeds_train(workspace, tiny_raw):
    """With the prepared test split deleted the tune stage still runs (it cannot have read it), every grid
    point is the run's default times a factor, and the train stage trains at the chosen one."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    tiny_raw["tuning"].update(factors=[1.0, 3.0], extend_max=0)  # the extension has its own tests below
    params = parse_params(tiny_raw)
    prepare.run(params)
    shutil.rmtree(workspace / "data" / "prepared" / "splits" / "test")
    result = tune.run(params, "lora")
    default = tiny_raw["loop"]["lr"]
    assert [p["lr"] for p in result["grid"]] == pytest.approx([default, 3 * default])
    assert all(0 <= p["validation"] <= 100 for p in result["grid"]) and result["split"] == "validation"
    assert result["chosen_lr"] == result["grid"][choose(result["grid"])]["lr"]
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


def point(score, factor=1.0):
    return {"validation": score, "factor": factor}


def test_choice_best_score_then_the_factor_nearest_one():
    def grid(*scores, factors=(0.3, 1.0, 3.0, 10.0)):
        return [point(s, f) for s, f in zip(scores, factors)]

    assert choose(grid(80, 85, 90, 70)) == 2
    assert choose(grid(90, 85, 90, 90)) == 2  # 3 is nearer 1 than 0.3 or 10
    assert choose(grid(85, 85, 80, 80, factors=(1 / 3, 1.0, 3.0, 10.0))) == 1  # the default wins a tie
    assert choose(grid(None, 50, None, None)) == 1  # diverged points never win
    assert choose(grid(90, 85, 90, 90, factors=(2.0, 1.0, 0.5, 4.0))) == 2  # as near 1 either way: the smaller factor
    with pytest.raises(HarnessError, match=r"^tune: every learning rate of the grid diverged; lower the run's lr or the tuning factors$"):
        choose(grid(None, None, None, None))
    assert edge_of([point(80, 1.0), point(90, 3.0)]) == "top" and edge_of([point(90, 1.0), point(80, 3.0)]) == "bottom"
    assert edge_of([point(90, 1.0)]) is None  # one point has no edge to grow from


LADDER = Axis.learning_rate(TuningConfig(factors=[1.0, 3.0, 10.0], extend_step=3.0, extend_per_round=2, extend_max=4))  # the default's rule


def planted_optimum(best_factor: float):
    """A validation score peaked at ``best_factor`` (log-distance from it), and the factors it was asked for."""
    asked = []

    def score(factors):
        asked.extend(factors)
        return [{"factor": f, "lr": 1e-3 * f, "validation": 90 - abs(math.log(f / best_factor))} for f in factors]

    return score, asked


@pytest.mark.parametrize("best, edge_after, added", [
    (30.0, None, [30.0, 90.0]),              # beyond the top: one round finds it interior
    (200.0, None, [30.0, 90.0, 270.0, 810.0]),  # two rounds
    (1e4, "top", [30.0, 90.0, 270.0, 810.0]),   # beyond the cap: stops there and says so
    (0.2, None, [1 / 3, 1 / 9]),             # beyond the bottom
    (1e-4, "bottom", [1 / 3, 1 / 9, 1 / 27, 1 / 81]),  # beyond the bottom's cap: the same 4 points as the top's
    (3.0, None, []),                         # interior already: nothing added
])
def test_an_edge_optimum_extends_the_grid_until_interior_or_the_cap(best, edge_after, added):
    score, asked = planted_optimum(best)
    points, edge = search(score([1.0, 3.0, 10.0]), LADDER, score)
    assert asked[3:] == pytest.approx(added) and edge == edge_after
    assert [p.get("extended", False) for p in points] == [False] * 3 + [True] * len(added)
    chosen = points[choose(points)]["factor"]
    if edge is None:  # the optimum is interior: a grid point on each side of it
        assert min(p["factor"] for p in points) < chosen < max(p["factor"] for p in points)


def test_the_axes_read_their_settings_and_lengths_grow_one_a_round():
    """The lr axis takes its step, points a round and cap from ``tuning.extend_*``; the length axis its step and cap
    from ``tuning.steps_extend_*`` and adds one length a round (each is a run of its own length, trained alone)."""
    from types import SimpleNamespace

    tuning = SimpleNamespace(extend_step=3.0, extend_per_round=2, extend_max=4, steps_extend_step=2.0, steps_extend_max=3)
    assert Axis.learning_rate(tuning) == Axis(3.0, 2, 4) and Axis.length(tuning) == Axis(2.0, 1, 3)
    score, _ = planted_optimum(1e4)
    rounds = []
    _, edge = search(score([0.5, 1.0, 2.0, 4.0]), Axis.length(tuning), lambda factors: rounds.append(factors) or score(factors))
    assert rounds == [[8.0], [16.0], [32.0]] and edge == "top"  # one length a round, up to the cap of 3


def test_a_diverged_point_beyond_the_best_bounds_the_grid():
    def score(factors):
        return [{"factor": f, "lr": f, "validation": None if f > 10 else 80 + f} for f in factors]

    points, edge = search(score([1.0, 3.0, 10.0]), LADDER, score)
    assert [p["factor"] for p in points] == [1.0, 3.0, 10.0, 30.0, 90.0] and edge is None
    assert edge_of(points) is None


def test_the_tune_stage_extends_a_planted_edge_optimum(workspace, tiny_raw, monkeypatch):
    """Through the stage itself (training and scoring replaced by a planted validation score that peaks at 9x the
    default lr): the first grid [1x, 3x] has its best on the top edge, so the stage scores 9x and 27x, chooses 9x
    (interior) and records no edge; with no room to extend, it keeps 3x and records the top edge."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    tiny_raw["tuning"].update(factors=[1.0, 3.0], extend_max=4, extend_per_round=2, extend_step=3.0)
    params = parse_params(tiny_raw)
    prepare.run(params)
    default = tiny_raw["loop"]["lr"]
    monkeypatch.setattr(tune, "fit_seed", lambda params, run, method, cfg, *a, **k: (cfg.lr, type("S", (), {"final_loss": 0.1})()))
    monkeypatch.setattr(tune, "predict", lambda lr, *a, **k: (lr, None, None))
    monkeypatch.setattr(tune, "score", lambda lr, labels, metrics: {metrics[0]: 90 - abs(math.log(lr / (9 * default)))})
    result = tune.run(params, "lora")
    assert [p["factor"] for p in result["grid"]] == pytest.approx([1.0, 3.0, 9.0, 27.0])
    assert result["chosen_lr"] == pytest.approx(9 * default) and result["grid_edge"] is None
    tiny_raw["tuning"]["extend_max"] = 0  # no room: the edge stays, and says so
    result = tune.run(parse_params(tiny_raw), "lora")
    assert result["chosen_lr"] == pytest.approx(3 * default) and result["grid_edge"] == "top"


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
                       "grid": [[5e-4, 69.9], [1.5e-3, 79.9], [5e-3, None]], "extended": 0, "grid_edge": None},
              "knn": {"method": "knn", "default_lr": None, "chosen_lr": None, "seed": 0, "seeds": [0, 1, 2], "grid": []}}
    text = "\n".join(render_protocol(tuning, "accuracy"))
    assert "| lora | lora | 0.0005 | 0.0005: 69.9, 0.0015: 79.9, 0.005: diverged | **0.0015** | 5 |" in text
    assert "grid edge" not in text.split("| run |")[1]
    tuning["lora"].update(chosen_lr=5e-3, extended=4, grid_edge="top")
    text = "\n".join(render_protocol(tuning, "accuracy"))
    assert "diverged (4 added at an edge) | **0.005** (**grid edge**: top, at the cap) | 5 |" in text
    assert "1 run(s) still chose an lr at the edge" in text
    assert "| knn | knn | — | no gradient steps: nothing to tune | — | 3 |" in text
    assert "validation accuracy at each lr" in text


def plant_an_optimum(monkeypatch, default: float) -> list[tuple[float, float]]:
    """The tune stage's training and scoring replaced by a validation score that peaks at 3x the default lr and at 4x
    the schedule's steps; returns the (lr factor, steps factor) points it is asked to train, as they come."""
    trained = []

    def fit(params, run, method, cfg, *a, steps_factor=1.0, **k):
        trained.append((round(cfg.lr / default, 6), steps_factor))
        return (cfg.lr, steps_factor), type("S", (), {"final_loss": 0.1})()

    monkeypatch.setattr(tune, "fit_seed", fit)
    monkeypatch.setattr(tune, "predict", lambda model, *a, **k: (model, None, None))
    monkeypatch.setattr(tune, "score", lambda model, labels, metrics: {
        metrics[0]: 90 - abs(math.log(model[0] / (3 * default))) - abs(math.log(model[1] / 4))})
    return trained


def test_training_length_is_a_second_axis_chosen_and_extended_on_validation(workspace, tiny_raw, monkeypatch):
    """Training length under the lr's rule, through the stage (training and scoring replaced by a planted validation
    score that peaks at 3x the default lr and at 4x the schedule's steps): lengths [1x, 2x] have their best on the top
    edge, so the stage adds 4x, then 8x (4x interior: no edge), searching the lr grid at each; the train stage trains
    the chosen length. With no room to extend, it keeps 2x and the row reads the length's edge."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    tiny_raw["tuning"].update(factors=[1.0, 3.0, 10.0], extend_max=0, steps_factors=[1.0, 2.0], steps_extend_step=2.0, steps_extend_max=3)
    params = parse_params(tiny_raw)
    prepare.run(params)
    default, schedule = tiny_raw["loop"]["lr"], tiny_raw["loop"]["max_steps"]
    trained = plant_an_optimum(monkeypatch, default)
    result = tune.run(params, "lora")
    assert [length["factor"] for length in result["lengths"]] == [1.0, 2.0, 4.0, 8.0]
    assert [length["steps"] for length in result["lengths"]] == [schedule, 2 * schedule, 4 * schedule, 8 * schedule]
    assert sorted(trained) == sorted((f, s) for f in (1.0, 3.0, 10.0) for s in (1.0, 2.0, 4.0, 8.0))  # the lr grid at every length
    assert result["steps_factor"] == 4.0 and result["steps"] == 4 * schedule and result["chosen_lr"] == pytest.approx(3 * default)
    assert result["grid_edge"] is None and [p["factor"] for p in result["grid"]] == [1.0, 3.0, 10.0]

    def stop(*a, steps_factor=1.0, **k):
        raise HarnessError(f"planted stop: training {steps_factor}x the schedule")

    monkeypatch.setattr(train, "fit_seed", stop)
    with pytest.raises(HarnessError, match=r"training 4.0x the schedule"):  # the train stage trains the chosen length
        train.run(params, "lora")

    tiny_raw["tuning"]["steps_extend_max"] = 0  # no room: the longest length stays, and says so
    result = tune.run(parse_params(tiny_raw), "lora")
    assert result["steps_factor"] == 2.0 and result["grid_edge"] == "steps top"


def test_after_lr_searches_the_lr_grid_once_then_each_length_at_its_choice(workspace, tiny_raw, monkeypatch):
    """``length_search: after_lr`` (the GLUE CPU profiles' rule): the lr grid at the schedule's length only, then each
    length at the lr chosen there, one point a length, extended by the length rule: with a planted optimum at 3x the
    lr and 4x the steps, lengths [1, 2, 4] put the best at 4x on the edge, so 8x is added and 4x chosen (interior)."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    tiny_raw["tuning"].update(factors=[1.0, 3.0, 10.0], extend_max=0, steps_factors=[1.0, 2.0, 4.0], length_search="after_lr",
                              steps_extend_step=2.0, steps_extend_max=1)
    params = parse_params(tiny_raw)
    prepare.run(params)
    default, schedule = tiny_raw["loop"]["lr"], tiny_raw["loop"]["max_steps"]
    trained = plant_an_optimum(monkeypatch, default)
    result = tune.run(params, "lora")
    assert sorted(trained) == [(1.0, 1.0), (3.0, 1.0), (3.0, 2.0), (3.0, 4.0), (3.0, 8.0), (10.0, 1.0)]  # no grid at 2x, 4x, 8x
    assert [length["factor"] for length in result["lengths"]] == [1.0, 2.0, 4.0, 8.0] and result["length_search"] == "after_lr"
    assert [length["lr"] for length in result["lengths"]] == pytest.approx([3 * default] * 4)
    assert result["steps_factor"] == 4.0 and result["steps"] == 4 * schedule and result["grid_edge"] is None
    assert [p["factor"] for p in result["grid"]] == [1.0, 3.0, 10.0]  # the lr grid, searched at the schedule's length

    tiny_raw["tuning"]["steps_extend_max"] = 0  # no room: 4x stays the longest and the row says so
    result = tune.run(parse_params(tiny_raw), "lora")
    assert result["steps_factor"] == 4.0 and result["grid_edge"] == "steps top"


def test_one_length_is_the_schedule_as_configured(workspace, tiny_raw):
    params = parse_params(tiny_raw)
    assert params.tuning.steps_factors == [1.0]
    for factors, message in (([2.0, 4.0], "steps_factors must include 1"), ([1.0, 1.0], "steps_factors must be distinct")):
        tiny_raw["tuning"]["steps_factors"] = factors
        with pytest.raises(HarnessError, match=message):
            parse_params(tiny_raw)


def test_a_length_factor_trains_that_many_times_the_schedule(workspace, tiny_raw):
    """Real training: a steps factor of 2 takes twice the schedule's optimizer steps."""
    from harness.engine.fit_seed import fit_seed
    from harness.stages.common import load_prepared, run_method

    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    params = parse_params(tiny_raw)
    prepare.run(params)
    splits, tokenizer = load_prepared(("train", "validation"))
    method, cfg = run_method(params, "lora")
    _, stats = fit_seed(params, "lora", method, cfg, 0, splits, tokenizer, track=False, steps_factor=2.0)
    assert stats.steps == 2 * tiny_raw["loop"]["max_steps"]


def test_status_shows_each_lengths_best_and_the_chosen_length():
    from harness.stages.tabulate import render_protocol

    tuning = {"lora": {"method": "lora", "default_lr": 5e-4, "chosen_lr": 1.5e-3, "seed": 0, "seeds": [0, 1, 2],
                       "grid": [[5e-4, 69.9], [1.5e-3, 79.9], [5e-3, 75.0]], "extended": 0, "grid_edge": "steps top",
                       "lengths": [[200, 79.0], [400, 79.9]], "steps": 400}}
    text = "\n".join(render_protocol(tuning, "accuracy"))
    assert ("| lora | lora | 0.0005 | best at each length (steps) 200: 79.0, 400: 79.9; at **400 steps**: 0.0005: 69.9, 0.0015: 79.9, "
            "0.005: 75.0 | **0.0015** (**grid edge**: steps top, at the cap) | 3 |") in text


def test_status_shows_the_lr_grid_then_each_length_at_its_best_lr():
    from harness.stages.tabulate import render_protocol

    tuning = {"lora": {"method": "lora", "default_lr": 5e-4, "chosen_lr": 1.5e-3, "seed": 0, "seeds": [0, 1, 2],
                       "grid": [[5e-4, 69.9], [1.5e-3, 79.9], [5e-3, None]], "extended": 0, "grid_edge": None,
                       "lengths": [[200, 79.9], [400, 80.5], [800, 80.1]], "steps": 400, "grid_steps": 200}}
    text = "\n".join(render_protocol(tuning, "accuracy"))
    assert ("| lora | lora | 0.0005 | at 200 steps: 0.0005: 69.9, 0.0015: 79.9, 0.005: diverged; at its best lr, each length (steps) "
            "200: 79.9, 400: 80.5, 800: 80.1; **400 steps** chosen | **0.0015** | 3 |") in text
