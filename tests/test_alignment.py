"""SFT then DPO (harness/causal/alignment.py, stage causal_align): the preference pairs, the attribute judge,
the config's refusals, and a two-step DPO run on the shrunk real config."""

from __future__ import annotations

import json
import random

import pytest

from harness.causal.preference import corrupt, hub_pairs, judge, parse_mr, preference_pairs
from harness.causal.settings import causal_of
from harness.causal.tasks.e2e import E2E, E2EGenerated, format_mr, random_mr
from harness.commands.validate import validated
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
        validated(parse_params(tiny_raw))


@pytest.mark.parametrize("preference", [{"source": "hub"}, {"source": "generated", "name": "trl-lib/ultrafeedback_binarized"}])
def test_a_hub_preference_set_needs_its_name_and_only_with_hub(tiny_raw, preference):
    tiny_raw["causal"]["align"]["preference"] = preference
    with pytest.raises(HarnessError, match="causal.align.preference.*name"):
        validated(parse_params(tiny_raw))


def _tokenizer(chat_template: str | None):
    """A real (tiny, word-level) fast tokenizer: the hub loader only asks it for its chat template."""
    from tokenizers import Tokenizer, models
    from transformers import PreTrainedTokenizerFast

    tok = PreTrainedTokenizerFast(tokenizer_object=Tokenizer(models.WordLevel({"[UNK]": 0}, unk_token="[UNK]")), unk_token="[UNK]")
    tok.chat_template = chat_template
    return tok


def _preference_set(folder, rows_by_split):
    folder.mkdir()
    for split, rows in rows_by_split.items():
        (folder / f"{split}.jsonl").write_text("".join(json.dumps(r) + "\n" for r in rows))
    return str(folder)


def test_hub_pairs_read_explicit_implicit_and_conversational_sets(tmp_path):
    """A preference set by name (here a local dataset folder, as load_dataset reads a hub id): the explicit-prompt
    form as is, the implicit form split at the shared start, a conversation rendered by the chat template."""
    explicit = _preference_set(tmp_path / "explicit", {"train": [{"prompt": "Q1", "chosen": " yes", "rejected": " no"}] * 3,
                                                        "test": [{"prompt": "Q2", "chosen": " a", "rejected": " b"}]})
    assert hub_pairs(explicit, "train", 2, _tokenizer(None)) == [{"prompt": "Q1", "chosen": " yes", "rejected": " no"}] * 2
    assert hub_pairs(explicit, "test", None, _tokenizer(None)) == [{"prompt": "Q2", "chosen": " a", "rejected": " b"}]
    implicit = _preference_set(tmp_path / "implicit", {"train": [{"chosen": "Sky? It is blue.", "rejected": "Sky? It is green."}]})
    assert hub_pairs(implicit, "train", None, _tokenizer(None)) == [{"prompt": "Sky? It is", "chosen": " blue.", "rejected": " green."}]
    turn = [{"role": "user", "content": "Sky?"}]
    chat = _preference_set(tmp_path / "chat", {"train": [{"chosen": [*turn, {"role": "assistant", "content": "blue"}],
                                                          "rejected": [*turn, {"role": "assistant", "content": "green"}]}]})
    template = "{% for m in messages %}<{{ m.role }}>{{ m.content }}{% endfor %}{% if add_generation_prompt %}<assistant>{% endif %}"
    assert hub_pairs(chat, "train", None, _tokenizer(template)) == [{"prompt": "<user>Sky?<assistant>", "chosen": "blue", "rejected": "green"}]
    with pytest.raises(HarnessError, match="is conversational and the causal base model's tokenizer has no chat template"):
        hub_pairs(chat, "train", None, _tokenizer(None))


def test_hub_pairs_refuse_a_set_without_pairs_or_a_split(tmp_path):
    plain = _preference_set(tmp_path / "plain", {"train": [{"prompt": "Q", "response": "A"}]})
    with pytest.raises(HarnessError, match="lacks column\\(s\\) chosen, rejected"):
        hub_pairs(plain, "train", None, _tokenizer(None))
    with pytest.raises(HarnessError, match="split 'validation' cannot be loaded"):
        hub_pairs(plain, "validation", None, _tokenizer(None))


def test_align_needs_the_e2e_task(tiny_raw):
    tiny_raw["causal"]["task"] = "lm"
    with pytest.raises(HarnessError, match="causal.align: preference pairs are built from E2E meaning representations; causal.task is 'lm'"):
        validated(parse_params(tiny_raw))


@pytest.mark.slow
def test_sft_then_two_dpo_steps_per_variant(workspace, tiny_raw):
    """The stage on the shrunk config: both variants train, save both phases and report every figure; an
    AdaLoRA SFT run is refused before any work (its schedule spans one run)."""
    from harness.core.config import load_params
    from harness.stages import causal_align, causal_base, causal_data

    params = load_params()
    causal_data.run(params)
    causal_base.run(params)
    for name in causal_of(params).align.runs:
        result = causal_align.run(params, name)
        seed = result["seeds"]["0"]
        assert seed["dpo"]["steps"] == 2 and seed["sft"]["steps"] == causal_of(params).loop.max_steps
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
    pairs = [{"prompt": "name[The Eagle] ||", "chosen": " The Eagle is a pub.", "rejected": " The Eagle is a cafe."}] * 5
    tiny_raw["causal"]["align"]["preference"] = {"source": "hub", "name": _preference_set(workspace / "prefs", {"train": pairs, "test": pairs}), "limit": 4}
    write_params(workspace, tiny_raw)
    hub = causal_align.run(load_params(), "sft_dpo_lora")
    assert hub["pairs"] == {"train": 4, "test": 4} and hub["config"]["preference"]["limit"] == 4
    tiny_raw["causal"]["align"]["runs"]["sft_dpo_lora"]["sft_run"] = "adalora"
    write_params(workspace, tiny_raw)
    with pytest.raises(HarnessError, match="method 'adalora' steps a schedule between optimizer steps"):
        causal_align.run(load_params(), "sft_dpo_lora")
