"""The paper profiles carry the published hyperparameters: compared with the reference tables themselves."""

import re

import pytest

from harness.core.config import load_params
from tests.conftest import ROOT

REFERENCE = ROOT.parent / "shared" / "reference" / "published-results.md"
PROFILES = ROOT / "experiments" / "profiles"


@pytest.fixture(scope="module")
def reference() -> str:
    if not REFERENCE.is_file():
        pytest.skip(f"reference tables not found at {REFERENCE}")
    return REFERENCE.read_text()


def test_lora_roberta_base_sst2_matches_table_9(reference):
    table9 = reference[reference.index("RoBERTa-base LoRA (Table 9)"):]
    lr, batch, epochs = re.search(r"SST-2 ([\d.e-]+)/(\d+)/(\d+)", table9).groups()
    assert "r=8 on q and v, alpha=8" in table9 and "warmup ratio 0.06" in table9 and "max seq 512" in table9
    p = load_params(PROFILES / "paper-lora-roberta-base-sst2.yaml")
    assert (p.loop.lr, p.loop.batch_size, p.loop.epochs) == (float(lr), int(batch), float(epochs))
    assert (p.loop.warmup_ratio, p.loop.scheduler, p.model.max_length) == (0.06, "linear", 512)
    lora = p.train["lora"]
    assert (lora.r, lora.alpha, lora.target_modules) == (8, 8, ["query", "value"])
    assert (p.model.name, p.data.source, p.data.source_options.name) == ("roberta-base", "hub", "sst2")


def test_adalora_debertav3_sst2_matches_table_8(reference):
    row = re.search(r"SST-2 ([\d.e-]+)/(\d+)/(\d+)/([\d.]+)/(\d+)/(\d+)/(\d+)", reference[reference.index("Table 8"):]).groups()
    lr, batch, epochs, gamma, tinit, delta_t, tfinal = row
    p = load_params(PROFILES / "paper-adalora-debertav3-base-sst2.yaml")
    assert (p.loop.lr, p.loop.batch_size, p.loop.epochs) == (float(lr), int(batch), float(epochs))
    ada = p.train["adalora"]
    assert (ada.orth_reg_weight, ada.tinit, ada.deltaT, ada.tfinal) == (float(gamma), int(tinit), int(delta_t), int(tfinal))
    assert (ada.init_r, ada.target_r) == (12, 8)  # Table 7: b(T) = 576 -> average rank 8, initial 12
    assert "beta1 = beta2 = 0.85" in reference and (ada.beta1, ada.beta2) == (0.85, 0.85)
    assert p.train["lora_r8"].target_modules == ada.target_modules  # LoRA on all weight matrices too


def dvc_keys() -> set[str]:
    """Every params key dvc.yaml reads: the foreach collections and each stage's params entries."""
    import yaml

    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    keys = set()
    for stage in stages.values():
        if "foreach" in stage:
            keys.add(stage["foreach"].strip("${}"))
        for entry in (stage.get("do", stage)).get("params", []):
            if isinstance(entry, str) and "${" not in entry:
                keys.add(entry)
    return keys


@pytest.mark.parametrize("profile", sorted(p.name for p in PROFILES.glob("*.yaml")))
def test_profiles_define_every_key_the_pipeline_reads(profile):
    """`harness use-profile X && dvc exp run` must not stop at a missing key: a profile is a complete params file."""
    import yaml

    raw = yaml.safe_load((PROFILES / profile).read_text())
    for key in sorted(dvc_keys()):
        node = raw
        for part in key.split("."):
            assert isinstance(node, dict) and part in node, f"{profile}: {key} missing"
            node = node[part]


def test_gpt2_profiles_carry_table_11(reference):
    assert "lr 2e-4, linear, 500 warmup steps" in reference and "r=4, alpha=32, batch 8, 5 epochs, weight decay 0.01" in reference
    for name, model in (("paper-lora-gpt2-medium-e2e", "gpt2-medium"), ("paper-lora-gpt2-large-e2e", "gpt2-large")):
        c = load_params(PROFILES / f"{name}.yaml").causal
        assert (c.model, c.task, c.data.source) == (model, "e2e", "hub")
        assert (c.loop.lr, c.loop.batch_size, c.loop.epochs, c.loop.weight_decay, c.loop.scheduler) == (2e-4, 8, 5, 0.01, "linear")
        lora = c.runs["lora"]
        assert (lora.r, lora.alpha, lora.dropout) == (4, 32, 0.1)
        assert (c.decoding.num_beams, c.decoding.length_penalty, c.decoding.no_repeat_ngram_size) == (10, 0.9, 4)
