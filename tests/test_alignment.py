"""SFT then DPO (harness/causal/alignment.py, stage causal_align): the preference pairs, the attribute judge,
the config's refusals, and a two-step DPO run on the shrunk real config."""

from __future__ import annotations

import random

import pytest

from harness.causal.preference import corrupt, judge, parse_mr, preference_pairs
from harness.causal.tasks.e2e import E2E, E2EGenerated, format_mr, random_mr
from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from tests.conftest import write_params

MRS = sorted({row["mr"] for row in E2E().generate(E2EGenerated(n_train_mrs=150, n_test_mrs=5))["train"]})


def test_mr_round_trips_through_its_format():
    rng = random.Random(3)
    for _ in range(50):
        mr = random_mr(rng)
        assert parse_mr(format_mr(mr)) == mr
    with pytest.raises(HarnessError, match="no attribute\\[value\\] items"):
        parse_mr("a restaurant by the river")


def test_chosen_covers_every_attribute_and_rejected_misses_or_contradicts_one():
    pairs = preference_pairs(MRS, seed=0)
    assert len(pairs) == 2 * len(MRS) and {p["corruption"] for p in pairs} == {"drop", "contradict"}
    for p in pairs:
        mr = parse_mr(p["prompt"].removesuffix(" ||"))
        chosen, rejected = judge(mr, p["chosen"]), judge(mr, p["rejected"])
        assert chosen.covered == chosen.attributes and chosen.contradicted == 0, p
        assert rejected.covered == rejected.attributes - 1, p
        assert rejected.contradicted == (p["corruption"] == "contradict"), p


def test_pairs_are_deterministic_per_seed():
    assert preference_pairs(MRS[:20], seed=5) == preference_pairs(MRS[:20], seed=5)
    assert preference_pairs(MRS[:20], seed=5) != preference_pairs(MRS[:20], seed=6)


@pytest.mark.parametrize(
    ("text", "covered", "contradicted"),
    [
        ("The Mill is a pub near Raja Indian Cuisine. It is kid-friendly.", 4, 0),  # "Indian" in a venue name is no food
        ("The Mill is a pub serving Indian food near Raja Indian Cuisine. It is not family friendly.", 3, 2),
        ("The Mill is a coffee shop near Avalon.", 1, 2),
    ],
)
def test_judge_reads_values_not_venue_names(text, covered, contradicted):
    mr = {"name": "The Mill", "eatType": "pub", "near": "Raja Indian Cuisine", "familyFriendly": "yes", "food": "English"}
    result = judge(mr, text)
    assert (result.covered, result.contradicted) == (covered, contradicted)


def test_corrupt_changes_one_attribute_and_never_the_name():
    rng = random.Random(0)
    mr = parse_mr(MRS[0])
    for kind in ("drop", "contradict"):
        for _ in range(20):
            bad = corrupt(mr, rng, kind)
            assert bad["name"] == mr["name"]
            changed = set(mr.items()) ^ set(bad.items())
            assert len(changed) == (1 if kind == "drop" else 2)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda a: a["runs"]["sft_dpo_lora"].update(sft_run="nope"), "causal.align.runs.sft_dpo_lora.sft_run: 'nope' is not a run under causal.runs"),
        (lambda a: a["runs"].update(lora={"sft_run": "lora", "dpo_lr": 1e-4}), "causal.align.runs.lora: the name is taken by a causal run"),
        (lambda a: a.update(beta=0), "beta"),
        (lambda a: a["runs"]["sft_dpo_lora"].update(steps=3), "steps"),
    ],
)
def test_align_config_errors_name_the_key(tiny_raw, edit, message):
    edit(tiny_raw["causal"]["align"])
    with pytest.raises(HarnessError, match=message):
        parse_params(tiny_raw)


def test_align_needs_the_e2e_task(tiny_raw):
    tiny_raw["causal"]["task"] = "lm"
    with pytest.raises(HarnessError, match="causal.align: preference pairs are built from E2E meaning representations; causal.task is 'lm'"):
        parse_params(tiny_raw)


@pytest.mark.slow
def test_sft_then_two_dpo_steps_per_variant(workspace, tiny_raw):
    """The stage on the shrunk config: both variants train, save both phases and report every figure; an
    AdaLoRA SFT run is refused before any work (its schedule spans one run)."""
    from harness.core.config import load_params
    from harness.stages import causal_align, causal_base, causal_data

    params = load_params()
    causal_data.run(params)
    causal_base.run(params)
    for name in params.causal.align.runs:
        result = causal_align.run(params, name)
        seed = result["seeds"]["0"]
        assert seed["dpo"]["steps"] == 2 and seed["sft"]["steps"] == params.causal.loop.max_steps
        for phase in ("sft", "dpo"):
            ev = seed[phase]["eval"]
            assert 0 <= ev["preference_accuracy"] <= 100 and 0 <= ev["coverage"] <= 100 and ev["n_outputs"] == 3
        assert {"reward_accuracy", "reward_margin"} <= set(seed["dpo"]["eval"])
        assert seed["train_seconds"] == pytest.approx(seed["sft"]["train_seconds"] + seed["dpo"]["train_seconds"])
        for phase in ("sft", "dpo"):
            assert any((workspace / "models" / "causal_align" / name / "seed_0" / phase).iterdir())
    lora = read_json("results/causal/align/sft_dpo_lora.json")["seeds"]["0"]
    assert not (workspace / "models/causal_align/sft_dpo_lora/seed_0/dpo/ref").exists()  # trl's reference copy is not saved
    assert lora["trainable_params"] < read_json("results/causal/align/sft_dpo_full.json")["seeds"]["0"]["trainable_params"]
    tiny_raw["causal"]["align"]["runs"]["sft_dpo_lora"]["sft_run"] = "adalora"
    write_params(workspace, tiny_raw)
    with pytest.raises(HarnessError, match="method 'adalora' steps a schedule between optimizer steps"):
        causal_align.run(load_params(), "sft_dpo_lora")
