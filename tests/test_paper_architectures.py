"""Every paper profile on its own architecture, on a CPU: each run's method attached to a shrunk model of the
profile's model type (same module names, two layers, small width, random init) lands on exactly the modules the
paper adapts, as many per layer as on the full-size model paperscale counts; the task head is the profile's
(three labels for MNLI, one regression output for STS-B) and trains; the schedule the profile's epochs give fits
AdaLoRA's tinit/tfinal and the warm-up; and one step of training runs. What a user's first GPU run would otherwise
find out."""

from __future__ import annotations

import re
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoConfig, AutoModelForCausalLM, AutoModelForSequenceClassification

from harness.causal.settings import causal_of
from harness.commands.validate import load_validated
from harness.core.errors import HarnessError
from harness.core.registry import METHODS
from harness.engine.trainer import total_steps
from harness.methods.adalora import schedule_steps
from harness.stages import paperscale
from tests.conftest import ROOT, paperscale_spec, shrunk_architecture

PROFILES = sorted(p for p in (ROOT / "experiments" / "profiles").glob("*.yaml") if p.stem.startswith(("paper-", "seed-")))

# Training rows of each data set, as the hub serves them (GLUE: Wang et al. 2019, Table 1; E2E: Novikova et al.
# 2017; WikiText-2 raw: the hub's train split, one row per line): the epochs the profiles give become steps here.
TRAIN_ROWS = {"mnli": 392_702, "qqp": 363_846, "qnli": 104_743, "sst2": 67_349, "cola": 8_551, "stsb": 5_749,
              "mrpc": 3_668, "rte": 2_490, "e2e": 42_061, "lm": 36_718}
# the model a profile names -> its architecture in experiments/paperscale.yaml (GPT-2 small: transformers' defaults)
ARCHITECTURE_OF = {"microsoft/deberta-v3-base": "deberta-v3-base", "roberta-base": "roberta-base",
                   "gpt2-medium": "gpt2-medium", "gpt2-large": "gpt2-large", "gpt2": None}
# what each paper adapts, per transformer layer (AdaLoRA §4: W_q, W_k, W_v, W_o, W_f1, W_f2; LoRA §7/Table 2:
# W_q, W_v; LoRA Table 3 on GPT-2: the fused query-key-value projection c_attn)
ADAPTED_PER_LAYER = {"deberta-v2": 6, "roberta": 2, "gpt2": 1}


def full_architecture(model: str) -> dict:
    archs = paperscale_spec()["architectures"]
    name = ARCHITECTURE_OF[model]
    return dict(archs[name]) if name else {"model_type": "gpt2", **{k: v for k, v in AutoConfig.for_model("gpt2").to_dict().items()
                                                                      if k in ("n_layer", "n_embd", "n_head", "n_positions", "vocab_size")}}


def runs_of(path: Path) -> list[tuple[str, object, object, int, str, int]]:
    """(run, method, settings, num_labels, model name, training rows) of every paper run of a profile: its
    classification runs when its model is a paper's, its causal runs when it has a causal section with a hub model."""
    params = load_validated(path)
    found = []
    if not params.model.name.startswith("embedded:"):
        task = params.data.source_options.name
        for run, cfg in params.train.items():
            found.append((f"train.{run}", METHODS.get(cfg.method)(), cfg, params.data.num_labels, params.model.name, TRAIN_ROWS[task], params.loop))
    causal = causal_of(params)
    if causal is not None and causal.model != "standin":
        for run, cfg in causal.runs.items():
            found.append((f"causal.runs.{run}", METHODS.get(cfg.method)(), cfg, 0, causal.model, TRAIN_ROWS[causal.task], causal.loop))
    return found


def unmatched_targets(model, cfg) -> list[str]:
    """The run's target module names that name no module of ``model`` (peft matches a name by its last parts)."""
    names = [n for n, _ in model.named_modules()]
    return [t for t in getattr(cfg, "target_modules", None) or [] if not any(n == t or n.endswith("." + t) for n in names)]


def adapted(model) -> set[str]:
    """Names of the modules carrying an adapter (LoRA's A or AdaLoRA's E)."""
    return {n for n, m in model.named_modules() if hasattr(m, "lora_A") and "default" in getattr(m, "lora_A", {})}


def layer_suffixes(names: set[str]) -> dict[str, int]:
    """An adapted module's name inside its transformer layer (``attention.self.query_proj``) -> how many layers
    carry it; a module outside every layer keeps its whole name."""
    counts: dict[str, int] = {}
    for name in names:
        inside = re.search(r"\.(?:layer|h)\.\d+\.(.+)$", name)
        key = inside.group(1) if inside else name
        counts[key] = counts.get(key, 0) + 1
    return counts


@pytest.mark.parametrize("path", PROFILES, ids=[p.stem for p in PROFILES])
def test_a_paper_profile_attaches_trains_and_schedules_on_its_architecture(path):
    check_profile(path)


def check_profile(path: Path) -> None:
    """Every check above on each paper run of the profile at ``path``; every head layer trains (DeBERTa's pooler, which
    sits outside its backbone, included: harness/methods/base.py's ``head_modules``)."""
    runs = runs_of(path)
    assert runs, f"{path.name}: no run on a paper's model"
    for run, method, cfg, num_labels, model_name, rows, loop in runs:
        full = full_architecture(model_name)
        small = shrunk_architecture(full)
        fields = dict(small)
        model_type = fields.pop("model_type")
        causal = num_labels == 0
        config = AutoConfig.for_model(model_type, **fields, **({} if causal else {"num_labels": num_labels}))
        if not causal and config.pad_token_id is None:
            config.pad_token_id = 0
        torch.manual_seed(0)
        model = (AutoModelForCausalLM if causal else AutoModelForSequenceClassification).from_config(config)
        # the task head: every parameter outside the pretrained backbone (pooler, classifier; none for a causal LM)
        head = [] if causal else [n for n, _ in model.named_parameters() if not n.startswith(model.base_model_prefix + ".")]
        steps = total_steps(loop, rows)
        assert 0 <= int(loop.warmup_ratio * steps) < steps
        if missing := unmatched_targets(model, cfg):
            pytest.fail(f"{path.stem}: {run}.target_modules: {', '.join(missing)} matches no module of {model_type}", pytrace=False)
        if method.name == "adalora":
            try:
                tinit, tfinal = schedule_steps(cfg, steps)
            except HarnessError as err:
                pytest.fail(f"{path.stem}: {run}.tfinal: {err} (the profile's epochs give {steps} steps)", pytrace=False)
            if cfg.deltaT >= steps - tinit - tfinal:
                pytest.fail(f"{path.stem}: {run}.deltaT: {cfg.deltaT} does not fit the {steps - tinit - tfinal} steps between tinit and tfinal", pytrace=False)
        prepared = method.prepare(model, cfg, total_steps=steps)
        where = adapted(prepared)
        if method.name == "full":
            assert not where and all(p.requires_grad for p in prepared.parameters())
        else:
            per_layer = layer_suffixes(where)
            layers = small.get("num_hidden_layers", small.get("n_layer"))
            assert len(per_layer) == ADAPTED_PER_LAYER[model_type], f"{path.stem} {run}: adapted {sorted(per_layer)}"
            assert set(per_layer.values()) == {layers}, f"{path.stem} {run}: not on every layer: {per_layer}"
            # the same modules as on the full-size model paperscale counts: the pattern holds at the paper's size
            big = method.prepare(paperscale.build(full), cfg, total_steps=steps)
            full_layers = full.get("num_hidden_layers", full.get("n_layer", 12))
            assert layer_suffixes(adapted(big)) == {k: full_layers for k in per_layer}
        trainable = {n.removeprefix("base_model.model.") for n, p in prepared.named_parameters() if p.requires_grad}

        def trains(name: str, trainable: set[str] = trainable) -> bool:  # itself, or peft's trained copy (modules_to_save)
            parts = name.split(".")
            copies = {".".join([*parts[:i], "modules_to_save", "default", *parts[i:]]) for i in range(1, len(parts))}
            return name in trainable or bool(copies & trainable)

        frozen = [n for n in head if not trains(n)]
        assert not frozen, f"{path.stem} {run}: layers between the encoder and the logits that do not train: {frozen}"
        assert all(w.removeprefix("base_model.model.").startswith(model.base_model_prefix + ".") for w in where)
        ids = torch.randint(0, small.get("vocab_size", 128), (2, 8))
        if causal:
            out = prepared(input_ids=ids, labels=ids)
        else:
            labels = torch.rand(2) if num_labels == 1 else torch.randint(0, num_labels, (2,))
            out = prepared(input_ids=ids, labels=labels)
            assert out.logits.reshape(2, -1).shape == (2, num_labels)
        out.loss.backward()
        assert torch.isfinite(out.loss) and any(p.grad is not None for p in prepared.parameters() if p.requires_grad)


@pytest.mark.parametrize("key, value, message", [
    ("target_modules", ["query_projection", "value_proj"], r"paper-adalora-debertav3-base-rte: train.adalora.target_modules: query_projection matches no module of deberta-v2"),
    ("tfinal", 10**7, r"paper-adalora-debertav3-base-rte: train.adalora.tfinal: adalora: \d+ steps leave no room"),
])
def test_a_planted_fault_fails_with_one_line_naming_the_profile_and_key(tmp_path, key, value, message):
    """A target module the architecture lacks, or a tfinal beyond the steps the epochs give: one line, the profile and
    the key."""
    raw = yaml.safe_load((ROOT / "experiments" / "profiles" / "paper-adalora-debertav3-base-rte.yaml").read_text())
    raw["train"]["adalora"][key] = value
    planted = tmp_path / "paper-adalora-debertav3-base-rte.yaml"
    planted.write_text(yaml.safe_dump(raw))
    with pytest.raises(pytest.fail.Exception, match=message) as failed:
        check_profile(planted)
    assert "\n" not in str(failed.value)
