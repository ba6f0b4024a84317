"""The causal-LM track: lm-eval end to end against a direct computation, the data-to-text generator,
the shared metric code, config errors, and every stage on the shrunk real config."""

from __future__ import annotations

import math

import pytest
import torch

from harness.causal.evaluation import evaluate
from harness.causal.settings import DecodingConfig, StandinConfig, causal_of
from harness.causal.standin import build_model, builtin_corpus, train_tokenizer
from harness.commands.validate import validated
from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.core.registry import CAUSAL_TASKS, GENERATION_METRICS
from harness.stages.causal_data import jsonl
from tests.conftest import write_params


def write_rows(where, rows):
    where.mkdir(parents=True, exist_ok=True)
    for split, r in rows.items():
        (where / f"{split}.jsonl").write_text(jsonl(r))


@pytest.fixture(scope="module")
def tiny_lm(tmp_path_factory):
    """A tiny GPT-2 built from config with an offline tokenizer, saved like the causal_base stage saves it,
    plus a LoRA adapter whose B is not zero (so the adapter really changes the model)."""
    from peft import LoraConfig, TaskType, get_peft_model

    root = tmp_path_factory.mktemp("tiny_lm")
    cfg = StandinConfig(n_layer=2, n_embd=32, n_head=2, n_positions=256, vocab_size=300)
    tokenizer = train_tokenizer(builtin_corpus(300, 0), cfg.vocab_size)
    torch.manual_seed(0)
    model = build_model(cfg, tokenizer)
    model.save_pretrained(root / "base")
    tokenizer.save_pretrained(root / "base")
    peft = get_peft_model(model, LoraConfig(task_type=TaskType.CAUSAL_LM, r=4, target_modules=["c_attn"], init_lora_weights=False))
    peft.save_pretrained(root / "adapter")
    return root, peft.eval(), tokenizer


def direct_word_perplexity(model, tokenizer, texts):
    """exp(-sum log p(doc) / words): every token predicted from the end-of-text token before it, as
    lm-eval's rolling log-likelihood does for a document shorter than the context window."""
    total, words = 0.0, 0
    with torch.no_grad():
        for text in texts:
            ids = [tokenizer.eos_token_id] + tokenizer(text)["input_ids"]
            logits = model(input_ids=torch.tensor([ids])).logits[0, :-1].double()
            total += logits.log_softmax(-1).gather(1, torch.tensor(ids[1:])[:, None]).sum().item()
            words += len(text.split())
    return math.exp(-total / words)


def test_lm_eval_perplexity_matches_direct_computation(tiny_lm, tmp_path):
    root, peft_model, tokenizer = tiny_lm
    task = CAUSAL_TASKS.get("lm")()
    rows = task.generate(task.Generated(n_train_docs=3, n_test_docs=4, sentences_per_doc=1))
    assert all(len(tokenizer(r["text"])["input_ids"]) < 255 for r in rows["test"])  # one window each
    write_rows(tmp_path, rows)
    out = evaluate(base=root / "base", peft=root / "adapter", task=task, data_dir=tmp_path, decoding=DecodingConfig(),
                   seed=0, batch_size=2, max_length=256)
    ours = out["metrics"]["word_perplexity"]
    expected = direct_word_perplexity(peft_model, tokenizer, [r["text"] for r in rows["test"]])
    assert ours == pytest.approx(expected, rel=1e-4)
    # the adapter is really loaded: the base model alone scores differently
    base_only = evaluate(base=root / "base", task=task, data_dir=tmp_path, decoding=DecodingConfig(), seed=0, batch_size=2, max_length=256)
    assert base_only["metrics"]["word_perplexity"] != pytest.approx(ours, rel=1e-3)


def test_e2e_generator_is_deterministic_and_keeps_test_mrs_unseen():
    task = CAUSAL_TASKS.get("e2e")()
    cfg = task.Generated(n_train_mrs=30, n_test_mrs=10, references=3, seed=5)
    a, b = task.generate(cfg), task.generate(cfg)
    assert a == b
    assert task.generate(task.Generated(n_train_mrs=30, n_test_mrs=10, references=3, seed=6)) != a
    assert len(a["train"]) == 90 and len(a["test"]) == 10
    assert all(len(r["refs"]) == 3 for r in a["test"])
    assert not {r["mr"] for r in a["train"]} & {r["mr"] for r in a["test"]}
    for row in a["test"]:  # every attribute value of the MR is realised in every reference
        values = [v.split("[", 1)[1].rstrip("]") for v in row["mr"].split("], ")]
        for ref in row["refs"]:
            for value in values:
                if value not in ("yes", "no"):  # familyFriendly is realised as a phrase
                    assert value in ref, (value, ref)


def test_generated_and_e2e_references_go_through_the_same_metric_code(tmp_path):
    """E2E's own CSV format (mr,ref; several rows per MR) and the generator's rows become the same row
    schema, and a system that outputs a reference scores as E2E's scripts would score it."""
    import sacrebleu

    task = CAUSAL_TASKS.get("e2e")()
    csv = tmp_path / "testset_w_refs.csv"
    csv.write_text('mr,ref\n"name[The Vaults], eatType[pub], priceRange[more than £30]","The Vaults pub is expensive."\n'
                   '"name[The Vaults], eatType[pub], priceRange[more than £30]","The Vaults is a pub with prices above £30."\n'
                   '"name[Zizzi], area[riverside]","Zizzi is by the river."\n')
    e2e_rows = task.read_local(csv, "test", "test")
    generated = task.generate(task.Generated(n_train_mrs=2, n_test_mrs=2, references=2))["test"]
    assert set(e2e_rows[0]) == set(generated[0])  # one schema
    assert e2e_rows[0]["refs"] == ["The Vaults pub is expensive.", "The Vaults is a pub with prices above £30."]
    for rows in (e2e_rows, generated):
        refs = [r["refs"] for r in rows]
        preds = [r["refs"][-1] for r in rows]
        bleu = GENERATION_METRICS.get("bleu")()
        assert bleu.corpus(preds, refs) == pytest.approx(100.0)
        wrong = ["a completely different sentence ."] * len(rows)
        streams = [[r[k] if k < len(r) else None for r in refs] for k in range(max(map(len, refs)))]
        assert bleu.corpus(wrong, refs) == pytest.approx(sacrebleu.corpus_bleu(wrong, streams).score)
        for name in ("rouge_l", "cider", "nist"):
            metric = GENERATION_METRICS.get(name)()
            assert metric.corpus(preds, refs) > metric.corpus(wrong, refs)


def test_unavailable_metric_reports_why(monkeypatch):
    import shutil

    monkeypatch.setattr(shutil, "which", lambda name: None)
    assert "java" in GENERATION_METRICS.get("meteor")().unavailable()


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda c: c["runs"].update(bad={"method": "bitfit"}), "causal.runs.bad.method: 'bitfit' has no causal-LM support; supported: adalora, full, lora, loraplus"),
        (lambda c: c["runs"].update(icl={"method": "lora"}), "causal.runs.icl: the name icl is the in-context row"),
        (lambda c: c.update(task="e2e_nlg"), "unknown causal task 'e2e_nlg'; closest: e2e; known: e2e, lm"),
        (lambda c: c["data"].update(source="local"), "causal.data.local: source local needs both train and test files"),
        (lambda c: c["standin"].update(n_embd=30, n_head=4), "n_embd (30) must be a multiple of n_head (4)"),
        (lambda c: c["data"]["generated"].update(n_rows=3), "causal.data.generated.n_rows: unknown key; allowed: n_train_mrs"),
    ],
)
def test_causal_config_errors_name_the_key(tiny_raw, edit, message):
    edit(tiny_raw["causal"])
    with pytest.raises(HarnessError) as err:
        validated(parse_params(tiny_raw))
    assert message in str(err.value)


def test_local_file_errors_are_one_line(tmp_path):
    task = CAUSAL_TASKS.get("e2e")()
    bad = tmp_path / "rows.csv"
    bad.write_text("meaning,sentence\nx,y\n")
    with pytest.raises(HarnessError, match="column 'mr' missing or empty; columns: meaning, sentence"):
        task.read_local(bad, "train", "causal.data.local.train")
    tsv = tmp_path / "rows.tsv"
    tsv.write_text("mr\tref\n")
    with pytest.raises(HarnessError, match=r"unsupported file type '\.tsv'; allowed: \.jsonl, \.csv"):
        task.read_local(tsv, "train", "causal.data.local.train")


@pytest.mark.slow
def test_causal_stages_end_to_end_and_deterministic(workspace, tiny_raw):
    """Every causal stage on the shrunk real config; retraining a seed reproduces its loss exactly."""
    from harness.core.config import load_params
    from harness.stages import causal_base, causal_data, causal_evaluate, causal_train

    tiny_raw["causal"]["runs"].pop("lora_all")  # the same method as lora: every stage path is still covered
    tiny_raw["causal"]["align"]["runs"] = {}  # SFT then DPO: tests/test_alignment.py
    tiny_raw["causal"]["knowledge"]["arms"] = {}  # retrieval: tests/test_retrieval.py
    tiny_raw["causal"]["rag"]["models"] = ["base"]
    write_params(workspace, tiny_raw)
    params = load_params()
    causal_data.run(params)
    base = causal_base.run(params)
    assert base["pretrain"]["final_loss"] < base["pretrain"]["first_loss"]
    for run in causal_of(params).runs:
        causal_train.run(params, run)
    for run in [*causal_of(params).runs, "icl"]:
        result = causal_evaluate.run(params, run)
        metrics = result["seeds"]["0"]["metrics"]
        assert {"bleu", "nist", "rouge_l", "cider", "ref_word_perplexity"} <= set(metrics)
        assert all(math.isfinite(v) for v in metrics.values())
    full, lora = (read_json(f"results/causal/eval/{r}.json")["seeds"]["0"]["artifact_bytes"] for r in ("full", "lora"))
    assert full > 5 * lora  # an adapter, not a model copy (the toy model is tiny, so the ratio is too)
    first = read_json("results/causal/train/lora.json")["seeds"]["0"]["final_loss"]
    causal_train.run(params, "lora")
    assert read_json("results/causal/train/lora.json")["seeds"]["0"]["final_loss"] == first
    # a missing base model is a clear error, not a traceback
    tiny_raw["causal"]["runs"] = {"lora": tiny_raw["causal"]["runs"]["lora"]}
    write_params(workspace, tiny_raw)
    import shutil

    shutil.rmtree("models/causal/base")
    with pytest.raises(HarnessError, match="causal base model not found; run the causal_base stage first"):
        causal_train.run(load_params(), "lora")
