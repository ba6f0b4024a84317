"""Planted-rank benchmark: the teacher really carries the planted ranks, the comparison measures are right,
and the stage runs end to end on the shrunk config."""

import copy

import pytest
import torch

from harness.config import parse_params
from harness.errors import HarnessError
from harness.lowrank import effective_rank, global_budget_ranks
from harness.models import load_classifier
from harness.planted import (
    adapted_modules,
    allocation_agreement,
    budget_needed,
    plant,
    resolve_modules,
    teacher_head,
)
from harness.stages import planted as planted_stage
from harness.stages import prepare
from harness.training import seed_everything

MODULES = ["query", "value"]


@pytest.fixture(scope="module")
def base():
    seed_everything(0)
    return load_classifier("embedded:all-MiniLM-L6-v2", 4)


def test_teacher_has_exactly_the_planted_ranks(base):
    """SVD check: teacher minus base weight has rank r on planted modules and is zero elsewhere."""
    names = adapted_modules(base, MODULES)
    planted = resolve_modules(base, {"layer.2.attention.self.value": 3, "layer.4.attention.self.query": 1}, names, "planted.tasks.t")
    teacher = copy.deepcopy(base)
    deltas = plant(teacher, planted, strength=1.0, seed=7)
    base_w, teacher_w = dict(base.named_modules()), dict(teacher.named_modules())
    for name, rank in planted.items():
        diff = (teacher_w[name].weight - base_w[name].weight).detach()
        assert torch.linalg.matrix_rank(diff) == rank, name  # float32 tolerance: the weights are float32
        if rank:
            s = torch.linalg.svdvals(diff.double())
            spectral = torch.linalg.matrix_norm(base_w[name].weight.double(), ord=2)
            assert torch.allclose(s[:rank], spectral.expand(rank), rtol=1e-3)  # equal singular values = strength x ||W||
    assert set(deltas) == {n for n, r in planted.items() if r}
    again = copy.deepcopy(base)
    plant(again, planted, strength=1.0, seed=7)
    assert all(torch.equal(dict(again.named_modules())[n].weight, teacher_w[n].weight) for n in deltas)  # seeded


def test_module_suffix_must_match_exactly_one_module(base):
    names = adapted_modules(base, MODULES)
    with pytest.raises(HarnessError, match=r"planted.tasks.t.value: matches 6 adapted modules"):
        resolve_modules(base, {"value": 1}, names, "planted.tasks.t")
    with pytest.raises(HarnessError, match="exceeds"):
        resolve_modules(base, {"layer.1.attention.self.value": 999}, names, "planted.tasks.t")


def test_teacher_head_balances_classes():
    gen = torch.Generator().manual_seed(0)
    base_h = torch.randn(400, 16, generator=gen)
    teacher_h = base_h + torch.randn(400, 1, generator=gen) * torch.eye(16)[3]  # the change lives on axis 3
    weight, bias = teacher_head(teacher_h, base_h, directions=2)
    labels = (teacher_h @ weight.T + bias).argmax(-1)
    counts = torch.bincount(labels, minlength=4)
    assert weight.shape == (4, 16) and counts.min() > 50  # sign pattern of two median-centred projections
    assert weight[:, 3].abs().min() > 0.95  # the first direction is (up to sampling noise) the planted axis


def test_allocation_agreement_and_budget_needed():
    planted = {"a": 4, "b": 2, "c": 0, "d": 0}
    perfect = allocation_agreement({"a": 4, "b": 2, "c": 0, "d": 0}, planted)
    assert perfect["spearman"] == pytest.approx(1.0) and perfect["share_on_planted"] == 1.0 and perfect["share_by_chance"] == 0.5
    inverted = allocation_agreement({"a": 0, "b": 1, "c": 3, "d": 3}, planted)
    assert inverted["spearman"] < 0 and inverted["share_on_planted"] == pytest.approx(1 / 7)
    assert budget_needed({1: 50.0, 2: 80.0, 4: 89.0, 8: 90.0}, base=40.0, full=90.0, keep=0.9) == 4


def test_global_budget_keeps_the_largest_singular_values():
    deltas = {"a": torch.diag(torch.tensor([5.0, 1.0, 0.0])), "b": torch.diag(torch.tensor([3.0, 2.0, 0.0]))}
    assert global_budget_ranks(deltas, 1) == {"a": 1, "b": 0}
    assert global_budget_ranks(deltas, 3) == {"a": 1, "b": 2}
    assert effective_rank(deltas["b"], rel_tol=0.5) == 2 and effective_rank(deltas["a"], rel_tol=0.5) == 1


def test_stage_end_to_end(workspace, tiny_raw):
    params = parse_params(tiny_raw)
    prepare.run(params)
    task = next(iter(params.planted.tasks))
    result = planted_stage.run(params, task)
    seed = result["seeds"]["0"]
    assert result["teacher_delta_ranks"] == {n: r for n, r in result["planted"].items()}
    assert set(seed["budget_curve"]) == {"1", "2", "4"}
    assert sum(seed["allocated_ranks"].values()) == 2 * len(seed["allocated_ranks"])  # AdaLoRA's final budget
    agree = seed["agreement"] * params.planted.n_eval / 100
    assert agree == pytest.approx(round(agree))  # a count of eval examples agreeing with the teacher
    assert (workspace / "results" / "planted" / f"{task}.json").is_file()


def test_the_student_is_scored_against_the_teacher(workspace, tiny_raw):
    """A student that has not moved (two steps at a learning rate of 1e-9) is the base model under the
    teacher's head, so its agreement with the teacher's labels is exactly the base model's; scored
    against any other labels (the base model's own: a planted defect) it would read 100 or anything else."""
    tiny_raw["planted"]["steps"] = 2
    tiny_raw["loop"]["lr"] = 1e-9
    params = parse_params(tiny_raw)
    prepare.run(params)
    task = next(iter(params.planted.tasks))
    result = planted_stage.run(params, task)
    assert result["base_agreement"] < 100
    assert result["seeds"]["0"]["agreement"] == pytest.approx(result["base_agreement"])
