"""Retrieval on the causal track. The knowledge-update task (harness/causal/knowledge.py, stage causal_knowledge):
the store and its update, BM25 retrieval, the contexts an arm's prompts get, the scoring of answers, the config's
refusals, and every arm of the shrunk real config through the stage. Retrieved demonstrations on data-to-text
(harness/causal/retrieval.py, stage causal_rag): the nearest examples, and both models through lm-eval."""

from __future__ import annotations

import random

import pytest

from harness.causal.knowledge import (
    FACT_KEYS,
    Change,
    Retriever,
    contexts,
    descriptions,
    documents,
    first_line,
    fit,
    prompt,
    query,
    score,
    update_facts,
    venue_facts,
)
from harness.causal.preference import judge
from harness.causal.retrieval import nearest_demonstrations
from harness.causal.settings import causal_of
from harness.causal.tasks.e2e import E2E, NAMES, E2EGenerated
from harness.commands.validate import validated
from harness.core.config import parse_params
from harness.core.errors import HarnessError
from tests.conftest import write_params

FACTS = venue_facts(0)
NEW, CHANGES = update_facts(FACTS, 15, 0)


def test_the_update_changes_one_fact_of_each_changed_venue_and_nothing_else():
    assert set(FACTS) == set(NAMES) and all(set(mr) == {"name", *FACT_KEYS} for mr in FACTS.values())
    assert len(CHANGES) == 15 and len({c.name for c in CHANGES}) == 15
    for name in NAMES:
        diff = {k for k in FACTS[name] if FACTS[name][k] != NEW[name][k]}
        change = next((c for c in CHANGES if c.name == name), None)
        assert diff == ({change.key} if change else set())
        if change:
            assert (FACTS[name][change.key], NEW[name][change.key]) == (change.old, change.new) and change.old != change.new
    assert update_facts(FACTS, 15, 0) == (NEW, CHANGES) and update_facts(FACTS, 15, 1)[1] != CHANGES


def test_store_documents_and_training_targets_state_every_fact_of_their_venue():
    for doc, name in zip(documents(NEW, 0), sorted(NEW)):
        assert doc.startswith(query(name)) and judge(NEW[name], doc.removeprefix(query(name))).covered == len(FACT_KEYS) + 1
    targets = descriptions(FACTS, 2, 0)
    assert len(targets) == 2 * len(NAMES)
    for name, text in targets:
        assert judge(FACTS[name], text).covered == len(FACT_KEYS) + 1


def test_bm25_finds_each_venue_s_own_document_first_and_contexts_put_it_nearest_the_question():
    docs = documents(NEW, 0)
    names = sorted(NEW)
    top = Retriever(docs).top([query(n) for n in names], 3)
    assert [row[0] for row in top] == list(range(len(names)))
    retrieved = contexts("retrieved", names, docs, 3, random.Random(0), Retriever(docs))
    assert all(len(c) == 3 and c[-1] == docs[i] for i, c in enumerate(retrieved))
    drawn = contexts("random", names, docs, 3, random.Random(0), None)
    assert all(len(c) == 3 and set(c) <= set(docs) for c in drawn) and drawn == contexts("random", names, docs, 3, random.Random(0), None)
    assert contexts("none", names, docs, 3, random.Random(0), None) == [[] for _ in names]
    assert prompt(retrieved[0], names[0]).endswith("\n" + query(names[0]))
    budget = len(prompt(retrieved[0][1:], names[0]))  # room for the two most relevant documents only
    assert fit(retrieved[0], names[0], len, budget) == retrieved[0][1:] and fit([], names[0], len, 0) == []


def test_scoring_reads_the_new_value_as_right_and_the_old_as_stale():
    facts = {"The Mill": {"name": "The Mill", "eatType": "pub", "food": "French", "priceRange": "cheap", "area": "riverside"},
             "Zizzi": {"name": "Zizzi", "eatType": "restaurant", "food": "Italian", "priceRange": "high", "area": "city centre"}}
    changes = [Change(name="The Mill", key="area", old="city centre", new="riverside")]
    answers = {"The Mill": "The Mill is a pub serving French food in the city centre, with cheap prices.",
               "Zizzi": "Zizzi is a restaurant serving Italian food in the city centre with high prices."}
    scored = score(answers, facts, changes)
    assert (scored["changed_accuracy"], scored["stale_rate"], scored["unchanged_accuracy"]) == (0.0, 100.0, 100.0)
    assert scored["fact_accuracy"] == pytest.approx(100.0 * 7 / 8)
    answers["The Mill"] = "The Mill is a pub in the riverside serving French food with cheap prices."
    assert score(answers, facts, changes)["changed_accuracy"] == 100.0 and score(answers, facts, changes)["stale_rate"] == 0.0
    assert first_line("Zizzi is a pub.\nname[The Mill] || The Mill is") == "Zizzi is a pub."


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda k: k["arms"]["kb_lora"].update(run="nope"), "causal.knowledge.arms.kb_lora.run: 'nope' is not a run under causal.runs"),
        (lambda k: k["arms"].update(lora={"context": "none", "run": "lora"}), "causal.knowledge.arms.lora: the name is taken"),
        (lambda k: k["arms"]["kb_rag"].update(context="web"), "context"),
        (lambda k: k.update(k=0), "k"),
    ],
)
def test_knowledge_config_errors_name_the_key(tiny_raw, edit, message):
    edit(tiny_raw["causal"]["knowledge"])
    with pytest.raises(HarnessError, match=message):
        validated(parse_params(tiny_raw))


@pytest.mark.slow
def test_every_arm_runs_on_the_shrunk_config(workspace, tiny_raw):
    """The stage on the shrunk config: trained arms train, retrieving arms record their index and hits, every arm
    scores the changed facts; an arm unknown or more changes than venues are refused before any work."""
    from harness.core.config import load_params
    from harness.stages import causal_base, causal_knowledge

    params = load_params()
    causal_base.run(params)
    for name, arm in causal_of(params).knowledge.arms.items():
        seed = causal_knowledge.run(params, name)["seeds"]["0"]
        assert seed["n_changed"] == 3 and 0 <= seed["changed_accuracy"] <= 100 and 0 <= seed["fact_accuracy"] <= 100
        assert (seed["trainable_params"] > 0) == (arm.run is not None) and (seed["train_seconds"] > 0) == (arm.run is not None)
        assert (seed["retrieval"] is not None) == (arm.context == "retrieved") and seed["memory"]["arm_mb"] > 0
        if arm.context == "retrieved":
            assert seed["retrieval"]["hit_at_1"] == 100.0 and seed["index_seconds"] > 0
    with pytest.raises(HarnessError, match="causal.knowledge.arms.nope: no such arm; arms: kb_lora"):
        causal_knowledge.run(params, "nope")
    tiny_raw["causal"]["knowledge"]["changed"] = 31
    write_params(workspace, tiny_raw)
    with pytest.raises(HarnessError, match="causal.knowledge.changed: 31; the store has 30 venues"):
        causal_knowledge.run(load_params(), "kb_rag")


def test_retrieved_demonstrations_are_the_training_examples_nearest_each_mr():
    rows = E2E().generate(E2EGenerated(n_train_mrs=40, n_test_mrs=3, references=2))
    train = rows["train"]
    probe = [dict(train[4])]  # a training MR asked as if it were a test MR: it is its own nearest example
    contexts, cost = nearest_demonstrations(train, probe, 3)
    lines = contexts[0].splitlines()
    assert len(lines) == 3 and lines[-1] == f"{train[4]['mr']} || {train[4]['ref']}" and len(set(lines)) == 3
    assert cost["documents"] == 40 and cost["index_seconds"] > 0
    contexts, _ = nearest_demonstrations(train, rows["test"], 2)
    assert all(len(c.splitlines()) == 2 and c.endswith("\n") for c in contexts)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["rag"].update(models=["base", "nope"]), "causal.rag.models.1: 'nope' is neither base nor a run under causal.runs"),
        (lambda c: c.update(task="lm"), "causal.rag: demonstrations are retrieved by meaning representation; causal.task 'lm' has none"),
    ],
)
def test_rag_config_errors_name_the_key(tiny_raw, edit, message):
    tiny_raw["causal"].pop("align")  # its own refusal of task lm would come first
    edit(tiny_raw["causal"])
    with pytest.raises(HarnessError, match=message):
        validated(parse_params(tiny_raw))


@pytest.mark.slow
def test_base_and_trained_models_answer_with_retrieved_demonstrations(workspace):
    """causal_rag on the shrunk config: the base model and lora_all's adapters evaluated through lm-eval's
    retrieval task, with the prompt the test rows carried and what retrieval cost."""
    from harness.core.config import load_params
    from harness.stages import causal_base, causal_data, causal_rag, causal_train

    params = load_params()
    causal_data.run(params)
    causal_base.run(params)
    causal_train.run(params, "lora_all")
    for model in causal_of(params).rag.models:
        result = causal_rag.run(params, model)
        assert result["run"] == f"{model}_rag" and result["shots"] == causal_of(params).icl_shots
        assert result["example_prompt"].count(" || ") == causal_of(params).icl_shots and result["example_prompt"].endswith(" ||")
        seed = result["seeds"]["0"]
        assert "bleu" in seed["metrics"] and seed["n_test"] == {"peft_repro_d2t_rag": 3}
        assert (seed["artifact_bytes"] > 0) == (model != "base")
    with pytest.raises(HarnessError, match="causal.rag.models: no 'full'"):
        causal_rag.run(params, "full")
