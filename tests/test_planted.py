"""Planted-rank benchmark: the teacher carries exactly the planted ranks, the measures are right, the controls
can pass and fail, and both stages run end to end on the shrunk config (tuning never opening the test split)."""

import copy
import shutil

import pytest
import torch

from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.seeding import seed_everything
from harness.engine.grid_search import choose, edge_of
from harness.engine.models import load_classifier
from harness.planted import benchmark as rb
from harness.stages import planted as planted_stage
from harness.stages import prepare

MODULES = ["query", "value"]


@pytest.fixture(scope="module")
def encoder():
    seed_everything(0)
    return load_classifier("embedded:all-MiniLM-L6-v2", 2).base_model


def test_teacher_has_exactly_the_planted_ranks(encoder):
    """SVD check: teacher minus base weight has rank r on planted modules and is zero elsewhere."""
    names = rb.adapted_modules(encoder, MODULES)
    planted = rb.resolve_modules(encoder, {"layer.2.attention.self.value": 3, "layer.4.attention.self.query": 1}, names, "planted.tasks.t")
    teacher = copy.deepcopy(encoder)
    deltas = rb.plant(teacher, planted, strength=1.0, seed=7)
    base_w, teacher_w = dict(encoder.named_modules()), dict(teacher.named_modules())
    for name, rank in planted.items():
        diff = (teacher_w[name].weight - base_w[name].weight).detach()
        assert torch.linalg.matrix_rank(diff) == rank, name  # float32 tolerance: the weights are float32
        if rank:
            s = torch.linalg.svdvals(diff.double())
            spectral = torch.linalg.matrix_norm(base_w[name].weight.double(), ord=2)
            assert torch.allclose(s[:rank], spectral.expand(rank), rtol=1e-3)  # equal singular values = strength x ||W||
    assert set(deltas) == {n for n, r in planted.items() if r}
    again = copy.deepcopy(encoder)
    rb.plant(again, planted, strength=1.0, seed=7)
    assert all(torch.equal(dict(again.named_modules())[n].weight, teacher_w[n].weight) for n in deltas)  # seeded


def test_module_suffix_must_match_exactly_one_module(encoder):
    names = rb.adapted_modules(encoder, MODULES)
    with pytest.raises(HarnessError, match=r"planted.tasks.t.value: matches 6 adapted modules"):
        rb.resolve_modules(encoder, {"value": 1}, names, "planted.tasks.t")
    with pytest.raises(HarnessError, match="exceeds"):
        rb.resolve_modules(encoder, {"layer.1.attention.self.value": 999}, names, "planted.tasks.t")


def test_subspace_recovery_of_the_planted_update_itself_is_one():
    gen = torch.Generator().manual_seed(0)
    U, _ = torch.linalg.qr(torch.randn(64, 3, generator=gen, dtype=torch.float64))
    V, _ = torch.linalg.qr(torch.randn(48, 3, generator=gen, dtype=torch.float64))
    planted = U @ V.T
    assert rb.subspace_recovery(planted, planted, 3) == pytest.approx(1.0)
    mixed = U @ torch.diag(torch.tensor([3.0, 2.0, 1.0], dtype=torch.float64)) @ V.T  # same subspaces, other spectrum
    assert rb.subspace_recovery(mixed, planted, 3) == pytest.approx(1.0)
    unrelated = torch.randn(64, 48, generator=gen, dtype=torch.float64)
    assert rb.subspace_recovery(unrelated, planted, 3) < 0.3  # chance is about r/dim per side
    half = torch.cat([U[:, :1], torch.linalg.qr(torch.randn(64, 2, generator=gen, dtype=torch.float64))[0]], 1) @ V.T
    assert 0.3 < rb.subspace_recovery(half, planted, 3) < 1.0
    # an update that writes the same outputs on data confined to the planted row space, plus a larger part in
    # other directions that no input reaches: by weights it is "not recovered", by what it writes on the data it is
    inputs = torch.randn(200, 3, generator=gen, dtype=torch.float64) @ V.T
    P = torch.linalg.qr(torch.cat([V, torch.randn(48, 3, generator=gen, dtype=torch.float64)], 1))[0][:, 3:]  # rows no input has
    W = torch.linalg.qr(torch.cat([U, torch.randn(64, 3, generator=gen, dtype=torch.float64)], 1))[0][:, 3:]
    unseen = planted + 10 * W @ P.T
    assert rb.subspace_recovery(unseen, planted, 3) < 0.1
    assert rb.subspace_recovery(unseen, planted, 3, inputs) == pytest.approx(1.0)


def test_arm_ranks_share_the_allocators_budget():
    planted = {"a": 4, "b": 2, "c": 0, "d": 0, "e": 0}
    assert rb.arm_ranks("oracle", planted, target_r=1) == {"a": 4, "b": 2}
    assert rb.arm_ranks("uniform", planted, target_r=1) == dict.fromkeys(planted, 1)
    assert rb.arm_ranks("negative", planted, target_r=1) == {"c": 2, "d": 2, "e": 2}  # budget 5 over 3 modules, rounded up
    with pytest.raises(HarnessError, match="negative control needs one left unplanted"):
        rb.arm_ranks("negative", {"a": 1, "b": 1}, target_r=1)
    assert rb.share_on({"a": 3, "b": 1, "c": 0}, planted) == 1.0 and rb.share_on({"a": 1, "c": 3}, planted) == 0.25


def seeds_of(oracle: list[float], negative: list[float]) -> dict:
    return {str(i): {"oracle": {"gap_closed": o}, "negative": {"gap_closed": n}} for i, (o, n) in enumerate(zip(oracle, negative))}


def test_validity_needs_both_controls_in_every_seed():
    assert rb.task_validity(seeds_of([97.0, 95.0], [20.0, 31.0]), 90, 50) == {"valid": True, "why": "both controls pass"}
    weak = rb.task_validity(seeds_of([97.0, 85.0], [20.0, 31.0]), 90, 50)
    assert not weak["valid"] and weak["why"].startswith("positive control: the oracle closes 85.0%")
    leaky = rb.task_validity(seeds_of([97.0, 95.0], [20.0, 71.0]), 90, 50)
    assert not leaky["valid"] and leaky["why"].startswith("negative control: LoRA off the planted modules closes 71.0%")


def test_budget_needed_and_its_growth_with_planted_rank():
    assert rb.budget_needed({1: 40.0, 2: 80.0, 4: 89.0, 8: 90.0}, full=95.0, keep=0.9) == 4
    assert rb.budget_needed({1: 40.0, 2: 80.0}, full=95.0, keep=0.9) is None

    def task(name, total, needed):
        return {"task": name, "planted_total_rank": total, "seeds": {"0": {"oracle": {"budget_needed": needed}}}}

    assert rb.budgets_grow({"high": task("high", 12, 12), "low": task("low", 2, 2), "none": task("none", 0, None)})["grows"]
    flat = rb.budgets_grow({"low": task("low", 2, 4), "high": task("high", 12, 4)})
    assert not flat["grows"] and flat["why"] == "oracle budget needed: low (P=2) 4.0, high (P=12) 4.0"


@torch.no_grad()
def test_the_loss_is_zero_exactly_when_the_student_is_the_teacher(encoder):
    teacher = copy.deepcopy(encoder)
    names = rb.adapted_modules(encoder, MODULES)
    deltas = rb.plant(teacher, rb.resolve_modules(encoder, {"layer.1.attention.self.value": 2}, names, "t"), 0.5, seed=1)
    batch = {"input_ids": torch.tensor([[101, 2307, 2143, 102, 0]]), "attention_mask": torch.tensor([[1, 1, 1, 1, 0]])}
    assert float(rb.HiddenStateMatch(copy.deepcopy(teacher), teacher).error(**batch)) == 0.0
    assert float(rb.HiddenStateMatch(encoder, teacher).error(**batch)) > 0.0
    student = copy.deepcopy(encoder)
    for name, d in deltas.items():  # the planted update put in place: the teacher again
        dict(student.named_modules())[name].weight.add_(d)
    assert float(rb.HiddenStateMatch(student, teacher).error(**batch)) == pytest.approx(0.0, abs=1e-10)


@torch.no_grad()
def test_teacher_forcing_charges_a_change_to_its_own_layer_only(encoder):
    """A student that differs from the teacher in layer 2 only is off in layer 2's output only: each layer is fed
    the teacher's input, so no layer above can make up for (or be blamed for) a change below it."""
    teacher = copy.deepcopy(encoder)
    student = copy.deepcopy(encoder)
    rb.plant(student, {"encoder.layer.2.attention.self.value": 2}, 0.5, seed=1)
    batch = {"input_ids": torch.tensor([[101, 2307, 2143, 2003, 102]]), "attention_mask": torch.ones(1, 5, dtype=torch.long)}
    errors = rb.HiddenStateMatch(student, teacher).layer_errors(**batch)
    assert errors[2] > 0 and torch.count_nonzero(errors) == 1


def test_the_positive_control_reaches_the_teacher(workspace, tiny_raw):
    """On a tiny config LoRA on exactly the planted module closes the gap, and LoRA elsewhere closes less."""
    tiny_raw["planted"].update(steps=60, n_train=64)
    params = parse_params(tiny_raw)
    prepare.run(params)
    splits, tokenizer = planted_stage.load_prepared(("train", "test"))
    bench = planted_stage.build(params, "low", splits, tokenizer, scored="test")
    oracle = planted_stage.measure_arm(bench, "oracle", 1e-2, seed=0)
    negative = planted_stage.measure_arm(bench, "negative", 1e-2, seed=0)
    assert oracle["gap_closed"] >= 90.0 and oracle["recovery"] > 0.5  # a random subspace: about 2/384
    assert negative["gap_closed"] < oracle["gap_closed"] - 20 and negative["share_on_planted"] == 0.0


def test_stages_end_to_end_and_tuning_never_opens_the_test_split(workspace, tiny_raw):
    tiny_raw["tuning"]["factors"] = [1.0, 3.0]
    params = parse_params(tiny_raw)
    prepare.run(params)
    test_split = workspace / "data" / "prepared" / "splits" / "test"
    shutil.move(test_split, workspace / "test-aside")
    tuned = planted_stage.tune(params)
    assert set(tuned["arms"]) == set(rb.ARMS) and set(tuned["provenance"]["data"]) == {"train", "validation"}
    for arm in tuned["arms"].values():  # the first grid, then an edge optimum's extension (harness/engine/grid_search.py)
        assert [p["factor"] for p in arm["grid"][:2]] == [1.0, 3.0] and arm["chosen_lr"] == arm["grid"][choose(arm["grid"])]["lr"]
        assert arm["grid_edge"] == edge_of(arm["grid"])  # an edge is recorded only where the cap left the best on it
    shutil.move(workspace / "test-aside", test_split)
    result = planted_stage.run(params, "high")
    seed = result["seeds"]["0"]
    assert result["teacher_delta_ranks"] == result["planted"] and result["arms"] == list(rb.ARMS)
    assert {arm: seed[arm]["lr"] for arm in rb.ARMS} == {arm: t["chosen_lr"] for arm, t in tuned["arms"].items()}
    budget = params.planted.student.target_r * result["modules"]
    assert seed["adalora"]["total_rank"] == budget == seed["uniform"]["total_rank"]  # equal final budgets
    assert seed["oracle"]["total_rank"] == result["planted_total_rank"] and set(seed["oracle"]["budget_curve"]) == {"1", "2", "4"}
    assert seed["uniform"]["share_on_planted"] == pytest.approx(result["share_by_chance"])
    assert isinstance(result["validity"]["valid"], bool)
    control = planted_stage.run(params, "none")
    assert control["arms"] == ["adalora"] and control["seeds"]["0"]["adalora"]["gap_closed"] is None
    summary = rb.summarize_benchmark({"high": result, "none": control})
    assert summary["tasks"]["high"]["no_signal_share"]["n"] == 1
    assert any("Benchmark:" in line for line in rb.render_summary(summary, {}, "generated inputs"))


def test_the_planted_stage_needs_the_tuning_result(workspace, tiny_raw):
    params = parse_params(tiny_raw)
    prepare.run(params)
    with pytest.raises(HarnessError, match=r"results/planted/tuning.json: missing; .*dvc repro planted_tune"):
        planted_stage.run(params, "high")
