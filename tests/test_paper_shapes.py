"""One paper profile of each shape, trained end to end through the real stages the way a user first runs it
(``harness run-profile <profile> evaluate``: prepare, tune, train, evaluate in a checkout of HEAD), shrunk: the
profile's own file with its model a local stand-in of the same architecture (its model type and module names, two
layers, small width, random init, a word-level tokenizer over the stand-in data) and its hub dataset a local folder
that ``datasets.load_dataset`` reads under the profile's own dataset name, splits and columns (MNLI's three labels and
``validation_matched``, RTE's and STS-B's sentence pairs, STS-B's scores), a few steps per run. Then every claim that
names the profile finds the run and field it reads in what the run wrote. What a user's first GPU run would find out
(tests/test_paper_architectures.py checks every profile's adapters and schedule; this trains one of each shape)."""

from __future__ import annotations

import json
import random

import pytest
import yaml
from tokenizers import Tokenizer, models, pre_tokenizers, processors
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification, PreTrainedTokenizerFast

from harness.claims.claim import leaves
from harness.claims.engine import measure_claim, pipeline_context
from harness.claims.loading import load_claims
from harness.core.config import load_params
from tests.conftest import ROOT, dataset_folder, shrink, shrunk_architecture
from tests.test_paper_architectures import full_architecture
from tests.test_pipeline import build_project, commit, sh

SHAPES = {  # shape -> the profile a user with that shape of task runs
    "single-sentence": "paper-adalora-debertav3-base-sst2",
    "pair": "paper-adalora-debertav3-base-rte",
    "regression": "paper-adalora-debertav3-base-stsb",
    "three-labels": "paper-adalora-debertav3-base-mnli",
    "roberta": "paper-lora-roberta-base-mrpc",
    "gpt2-e2e": "paper-lora-gpt2-medium-e2e",
    "gpt2-wikitext": "seed-gpt2-wikitext2",
}
CAUSAL = {"gpt2-e2e", "gpt2-wikitext"}  # the causal study's track: its model and data are the causal section's
WORDS = "the a cat dog sat ran on under mat rug big small red blue slowly quickly it was not very".split()
SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]
ROWS = {"train": 40, "eval": 12}


def sentence(rng: random.Random) -> str:
    return " ".join(rng.choice(WORDS) for _ in range(rng.randint(3, 9)))


def hub_standin(folder, hub: dict, task: str, labels: list) -> str:
    """A local dataset folder that ``load_dataset(folder, hub.name)`` reads as the hub serves the profile's task: its
    config name, its train and eval split names, its text columns, an integer label (a float score for regression)."""
    rng = random.Random(0)
    columns = [hub["text_column"], *([hub["text_pair_column"]] if hub.get("text_pair_column") else [])]
    return dataset_folder(folder, {hub["name"]: {
        split: [{**{c: sentence(rng) for c in columns}, "label": round(rng.uniform(0, 5), 2) if task == "regression" else rng.choice(labels), "idx": i}
                for i in range(ROWS[key])]
        for split, key in ((hub["train_split"], "train"), (hub["eval_split"], "eval"))}})


def model_standin(folder, model_name: str, num_labels: int | None) -> str:
    """The profile's architecture shrunk (tests/conftest.py: SHRINK), random init, with a word-level tokenizer over
    the stand-in data's words that returns what that model reads (RoBERTa and GPT-2: no token type ids). A causal LM
    (``num_labels`` None) gets GPT-2's end-of-text token, no template, and a head over the vocabulary."""
    fields = shrunk_architecture(full_architecture(model_name))
    model_type = fields.pop("model_type")
    backend = Tokenizer(models.WordLevel({w: i for i, w in enumerate([*SPECIALS, "<|endoftext|>", *WORDS])}, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    if num_labels is None:
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, eos_token="<|endoftext|>", bos_token="<|endoftext|>",
                                            unk_token="[UNK]", model_input_names=["input_ids", "attention_mask"])
        fields.update(bos_token_id=tokenizer.eos_token_id, eos_token_id=tokenizer.eos_token_id)
        model = AutoModelForCausalLM.from_config(AutoConfig.for_model(model_type, **fields))
    else:
        backend.post_processor = processors.TemplateProcessing(single="[CLS] $A [SEP]", pair="[CLS] $A [SEP] $B:1 [SEP]:1",
                                                               special_tokens=[("[CLS]", 2), ("[SEP]", 3)])
        inputs = ["input_ids", "attention_mask", *(["token_type_ids"] if fields.get("type_vocab_size", 2) != 1 else [])]
        tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, pad_token="[PAD]", unk_token="[UNK]", cls_token="[CLS]",
                                            sep_token="[SEP]", mask_token="[MASK]", model_input_names=inputs)
        fields.update(pad_token_id=tokenizer.pad_token_id)
        model = AutoModelForSequenceClassification.from_config(AutoConfig.for_model(model_type, **fields, num_labels=num_labels))
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return str(folder)


def causal_hub_standin(folder, task: str) -> dict:
    """The causal task's hub dataset as a local folder in its hub schema (E2E: meaning_representation and
    human_reference; WikiText at document level: page), train and test splits; the causal section's ``data.hub``."""
    rng = random.Random(0)
    make = {"e2e": lambda: {"meaning_representation": f"name[{rng.choice(WORDS)}], eatType[{rng.choice(WORDS)}]", "human_reference": sentence(rng)},
            "lm": lambda: {"page": "\n".join(sentence(rng) for _ in range(3))}}[task]
    name = "wikitext-2-raw-v1" if task == "lm" else None
    dataset_folder(folder, {name or "default": {split: [make() for _ in range(n)] for split, n in (("train", 16), ("test", 4))}})
    return {"path": str(folder), "name": name}


def shrunk_profile(name: str, tmp_path) -> dict:
    """The profile's own file, at toy size: local stand-ins for its model and dataset, one seed, a few steps (AdaLoRA's
    schedule in steps scaled to fit them: the full-size schedule is tests/test_paper_architectures.py's)."""
    raw = yaml.safe_load((ROOT / "experiments" / "profiles" / f"{name}.yaml").read_text())
    causal = raw["causal"]
    if causal["model"] != "standin":  # a GPT-2 profile: the causal track is the paper's; its classification part is the default's
        causal.update(model=model_standin(tmp_path / "causal_model", causal["model"], None), max_length=64, icl_shots=1, eval_batch_size=4)
        causal["data"]["hub"] = causal_hub_standin(tmp_path / "causal_dataset", causal["task"])
        causal["loop"].update(epochs=0, max_steps=4, batch_size=4)
        causal["decoding"].update(num_beams=2, max_new_tokens=8)
        for run in causal["runs"].values():
            run.pop("seeds", None)
        return {**raw, "seeds": [0]}
    data = raw["data"]
    num_labels = 1 if data.get("task") == "regression" else len(data["labels"])
    raw["model"].update(name=model_standin(tmp_path / "model", raw["model"]["name"], num_labels), max_length=32)
    data["hub"]["path"] = hub_standin(tmp_path / "dataset", data["hub"], data.get("task", "classification"), data["labels"])
    data["validation_size"] = 8
    raw["seeds"] = [0]
    raw["loop"].update(epochs=0, max_steps=6, batch_size=8, eval_batch_size=8, latency_batch=4, latency_repeats=2)
    for run in raw["train"].values():
        run.pop("seeds", None)
        if run["method"] == "adalora":
            run.update(tinit=1, tfinal=2, deltaT=1)
    return raw


@pytest.fixture(scope="module")
def project(tmp_path_factory, repo_params):
    """One throwaway copy of the project for every shape (each profile runs in its own checkout there)."""
    return build_project(tmp_path_factory.mktemp("project"), shrink(repo_params))


@pytest.mark.parametrize("shape", sorted(SHAPES))
def test_a_paper_profile_of_each_shape_runs_end_to_end_and_its_claims_find_their_fields(shape, project, tmp_path):
    name = SHAPES[shape]
    raw = shrunk_profile(name, tmp_path / "standins")
    (project / "experiments" / "profiles" / f"{name}.yaml").write_text(yaml.safe_dump(raw, sort_keys=False))
    commit(project, f"{name} at toy size")
    causal = shape in CAUSAL
    targets = ["studies/causal/dvc.yaml:causal_evaluate", "studies/causal/dvc.yaml:causal_icl"] if causal else ["evaluate"]
    sh("harness", "run-profile", name, *targets, cwd=project)
    folder = project / "results" / "profiles" / name
    if causal:
        runs, kind, files, metric = raw["causal"]["runs"], "causal/eval", ("causal_eval", "causal_train"), "bleu" if shape == "gpt2-e2e" else "word_perplexity"
    else:
        runs, kind, files, metric = raw["train"], "eval", ("eval", "train"), raw["data"]["metrics"][0]
        prepared = json.loads((folder / "prepare.json").read_text())
        assert prepared["sizes"] == {"train": ROWS["train"] - 8, "validation": 8, "test": ROWS["eval"]}
    for run in runs:
        evaluated = json.loads((folder / kind / f"{run}.json").read_text())
        assert evaluated["provenance"]["git"]["params_from"] == f"experiments/profiles/{name}.yaml"
        assert isinstance(evaluated["seeds"]["0"]["metrics"][metric], float), f"{shape}: {run}: {evaluated['seeds']['0']['metrics']}"
    # every claim that reads this profile's train or eval records finds them: a verdict, never "not run"
    ctx = pipeline_context(load_params(project / "params.yaml"), project / "results")
    claims = [c for c in load_claims(project / "experiments" / "claims", root=project, check_runs=False)
              if any(getattr(leaf, "profile", None) == name and getattr(leaf, "file", None) in files for leaf in leaves(c.measure))]
    assert claims, f"{name}: no claim reads it"
    for claim in claims:
        _, _, verdict = measure_claim(claim, ctx)
        assert verdict is None or verdict.verdict != "not run", f"{claim.id}: {verdict.detail}"
