"""One contract over every registered method, plus the checks specific to AdaLoRA and LoRA+."""

import pytest
import torch

from harness.claims.engine import judge_all
from harness.claims.gate import compare
from harness.claims.loading import load_claims
from harness.claims.measures import Context
from harness.core.config import parse_params
from harness.core.registry import METHODS
from harness.engine.inference import predict
from harness.methods.adalora import AdaLora
from harness.stages.train import train_seed
from tests.conftest import ROOT, set_runs


def with_run(tiny_raw, run: str, settings: dict):
    return parse_params(set_runs(tiny_raw, {run: settings}))


@pytest.mark.parametrize("name", METHODS.names())
def test_method_contract(name, tiny_raw, prepared, tmp_path):
    check_method_contract(with_run(tiny_raw, name, {"method": name}), name, prepared, tmp_path / "artifact")


def check_method_contract(params, name: str, prepared, out) -> None:
    """Run ``name`` trains a few steps to a finite loss (retrieval: none, and trains nothing), trains a
    strict subset of the weights (full fine-tuning: all of them), and reloads from disk to the same
    predictions; a method that merges predicts the same merged."""
    splits, tokenizer = prepared
    result, model = train_seed(params, name, 0, splits, tokenizer, out)
    method, cfg = METHODS.get(params.train[name].method)(), params.train[name]
    if method.trains:
        assert torch.isfinite(torch.tensor(result["final_loss"]))
        assert 0 < result["trainable_params"] <= result["total_params"]
        assert [step for step, _ in result["val_curve"]] == [3, 6]  # tracked every 3 of 6 steps
    else:
        assert result["final_loss"] is None and result["trainable_params"] == 0
    if cfg.method != "full":
        assert result["trainable_params"] < 0.2 * result["total_params"]
    trained, _, _ = predict(model, splits["test"], tokenizer, 16, torch.device("cpu"))
    torch.manual_seed(123)  # the reloaded model's fresh head must be replaced by the saved one, whatever its init
    reloaded = method.load(method.base_model(params.model, 2, cfg), out, cfg)
    preds, labels, _ = predict(reloaded, splits["test"], tokenizer, 16, torch.device("cpu"))
    assert len(preds) == len(labels) == len(splits["test"])
    assert (preds == trained).all()
    if method.mergeable:
        merged, _, _ = predict(reloaded.merge_and_unload(), splits["test"], tokenizer, 16, torch.device("cpu"))
        assert (merged == trained).all()


def test_adalora_allocation_moves_ranks(tiny_raw, prepared, tmp_path):
    splits, tokenizer = prepared
    params = with_run(tiny_raw, "adalora", {"method": "adalora", "init_r": 4, "target_r": 2, "deltaT": 1})
    report = train_seed(params, "adalora", 0, splits, tokenizer, tmp_path / "a")[0]["method_report"]
    ranks = report["rank_pattern"]
    assert len(ranks) == 12  # query and value in each of MiniLM's 6 layers
    assert min(ranks.values()) < 4, "allocator never masked a triplet: update_and_allocate not called?"
    assert sum(ranks.values()) == 2 * len(ranks)  # the final budget is exactly target_r per module on average


def test_adalora_without_allocation_fails_its_claim_and_the_gate(tiny_raw, prepared, tmp_path, monkeypatch):
    """A loop that skips update_and_allocate: the ranks-reallocated claim reads "not reproduced" on its
    figures and ``harness check`` against the committed expected state names it."""
    splits, tokenizer = prepared
    monkeypatch.setattr(AdaLora, "before_zero_grad", lambda self, model, step: None)
    params = with_run(tiny_raw, "adalora", {"method": "adalora", "init_r": 4, "target_r": 2, "deltaT": 1})
    figures = train_seed(params, "adalora", 0, splits, tokenizer, tmp_path / "a")[0]
    cid = "adalora.smoke.ranks-reallocated"
    claims = [c for c in load_claims(ROOT / "experiments" / "claims", ROOT) if c.id == cid]
    # three seeds that all behave like this one (no allocation is deterministic: every rank stays init_r)
    ctx = Context(profile="smoke", runs={"adalora": {"train": {"seeds": {s: figures for s in "012"}}}}, paperscale=None)
    rows = judge_all(claims, ctx)
    assert rows[0]["verdict"] == "not reproduced" and rows[0]["estimate"] == 0, rows[0]["detail"]
    expected = {"held": {cid: {"verdict": "inconclusive", "estimate": 8.0, "ci95": [5.5, 10.5], "region": [2.0, None]}}}
    worse, _ = compare(expected, rows)
    assert worse and worse[0].startswith(f"{cid}: expected inconclusive, got not reproduced")


def test_loraplus_gives_b_the_larger_learning_rate(tiny_raw):
    from harness.engine.models import load_classifier

    params = with_run(tiny_raw, "lp", {"method": "loraplus", "lr_ratio": 16})
    method, cfg = METHODS.get("loraplus")(), params.train["lp"]
    model = method.prepare(load_classifier(params.model.name, 2), cfg, total_steps=4)
    opt = method.optimizer(model, cfg, lr=1e-4, weight_decay=0.0)
    lr_of = {id(p): g["lr"] for g in opt.param_groups for p in g["params"]}
    named = dict(model.named_parameters())
    a = {lr_of[id(p)] for n, p in named.items() if "lora_A" in n}
    b = {lr_of[id(p)] for n, p in named.items() if "lora_B" in n}
    assert a == {1e-4}
    assert len(b) == 1 and b.pop() == pytest.approx(16 * 1e-4)


def test_every_adalora_setting_reaches_peft_and_its_schedule_is_in_steps(tiny_raw):
    """Each setting lands on its own field of peft's config (distinct values, so a swapped or dropped one shows),
    fractions of the run become whole steps, integers stay steps."""
    from harness.engine.models import load_classifier

    settings = {"method": "adalora", "init_r": 6, "target_r": 3, "alpha": 7.0, "dropout": 0.05, "target_modules": ["query", "key"],
                "tinit": 0.25, "tfinal": 7, "deltaT": 3, "beta1": 0.7, "beta2": 0.6, "orth_reg_weight": 0.2}
    params = with_run(tiny_raw, "ada", settings)
    method, cfg = METHODS.get("adalora")(), params.train["ada"]
    model = method.prepare(load_classifier(params.model.name, 2), cfg, total_steps=40)
    peft = model.peft_config["default"]
    got = {"init_r": peft.init_r, "target_r": peft.target_r, "alpha": peft.lora_alpha, "dropout": peft.lora_dropout,
           "target_modules": sorted(peft.target_modules), "tinit": peft.tinit, "tfinal": peft.tfinal, "deltaT": peft.deltaT,
           "beta1": peft.beta1, "beta2": peft.beta2, "orth_reg_weight": peft.orth_reg_weight}
    assert got == {**{k: v for k, v in settings.items() if k != "method"}, "target_modules": ["key", "query"], "tinit": 10, "tfinal": 7}
    assert peft.total_step == 40 and peft.task_type == "SEQ_CLS"
    assert {n.rsplit(".", 1)[-1] for n, m in model.named_modules() if hasattr(m, "lora_E") and "layer.0." in n} == {"query", "key"}


@pytest.mark.parametrize("tinit, tfinal, total, ok", [(0.5, 0.4, 10, True), (5, 4, 10, True), (5, 5, 10, False), (0.6, 4, 10, False)])
def test_the_adalora_schedule_must_leave_a_step_between_warm_up_and_final(tinit, tfinal, total, ok):
    from harness.core.errors import HarnessError
    from harness.methods.adalora import AdaLoraSettings, schedule_steps

    cfg = AdaLoraSettings(method="adalora", tinit=tinit, tfinal=tfinal)
    if ok:
        assert schedule_steps(cfg, total) == (int(tinit * total) if isinstance(tinit, float) else tinit,
                                              int(tfinal * total) if isinstance(tfinal, float) else tfinal)
    else:
        with pytest.raises(HarnessError, match=f"adalora: {total} steps leave no room"):
            schedule_steps(cfg, total)


@pytest.mark.parametrize("settings, message", [
    ({"init_r": 4, "target_r": 5}, r"target_r \(5\) must not exceed init_r \(4\)"),
    ({"init_r": 4, "target_r": 3, "allocate": False}, r"target_r \(3\) must equal init_r \(4\)"),
    ({"tinit": 0.5, "tfinal": 0.5}, r"tinit \+ tfinal \(0.5 \+ 0.5\) must leave room"),
])
def test_adalora_settings_that_cannot_run_are_refused(settings, message):
    from harness.methods.adalora import AdaLoraSettings

    with pytest.raises(ValueError, match=message):
        AdaLoraSettings(method="adalora", **settings)
    AdaLoraSettings(method="adalora", init_r=4, target_r=4, allocate=False)  # the fixed-budget ablation itself is fine
    AdaLoraSettings(method="adalora", tinit=0.5, tfinal=0.49)


def test_adalora_counts_its_kept_triplets_and_resumes_the_allocator_state(tiny_raw, prepared, tmp_path):
    """The budget a run reports is rank x (in + out + 1) per module from its final mask, plus what else trains; the
    allocator's state survives loop_state/load_loop_state (what a resumed run reads)."""
    from harness.methods.adalora import final_adapter_params, final_ranks

    splits, tokenizer = prepared
    params = with_run(tiny_raw, "adalora", {"method": "adalora", "init_r": 4, "target_r": 2, "deltaT": 1})
    figures, model = train_seed(params, "adalora", 0, splits, tokenizer, tmp_path / "a")
    report, ranks = figures["method_report"], final_ranks(model)
    hidden = 384  # MiniLM's query and value are 384 x 384
    assert report["final_adapter_params"] == final_adapter_params(model, ranks) == sum(r * (2 * hidden + 1) for r in ranks.values())
    assert report["modules_below_init_r"] == sum(r < 4 for r in ranks.values()) > 0
    assert (report["init_r"], report["target_r"]) == (4, 2)
    others = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and ".lora_" not in n)
    assert AdaLora().effective_params(model) == report["final_adapter_params"] + others
    pattern, allocator = model.peft_config["default"].rank_pattern, model.base_model.rankallocator
    assert pattern
    # the allocator's running averages (emptied once the budget is final): one distinct entry each, as mid-run
    kept = {k: {"m": torch.full((2,), float(i))} for i, k in enumerate(("ipt", "exp_avg_ipt", "exp_avg_unc"))}
    for k, v in kept.items():
        setattr(allocator, k, dict(v))
    state = AdaLora().loop_state(model)
    assert model.peft_config["default"].rank_pattern is None and state["rank_pattern"] == pattern
    allocator.ipt, allocator.exp_avg_ipt, allocator.exp_avg_unc = {}, {}, {}
    AdaLora().load_loop_state(model, state)
    assert model.peft_config["default"].rank_pattern == pattern
    assert {k: getattr(allocator, k) for k in kept} == kept


def test_before_allocation_every_adalora_module_reports_init_r(tiny_raw):
    from harness.engine.models import load_classifier
    from harness.methods.adalora import final_ranks

    params = with_run(tiny_raw, "ada", {"method": "adalora", "init_r": 5, "target_r": 2})
    model = METHODS.get("adalora")().prepare(load_classifier(params.model.name, 2), params.train["ada"], total_steps=20)
    assert final_ranks(model) == {f"bert.encoder.layer.{i}.attention.self.{m}": 5 for i in range(6) for m in ("query", "value")}


def test_every_lora_setting_reaches_peft(tiny_raw):
    from harness.engine.models import load_classifier

    for name in ("lora", "loraplus"):
        params = with_run(tiny_raw, name, {"method": name, "r": 3, "alpha": 5.0, "dropout": 0.02, "target_modules": ["key"]})
        model = METHODS.get(name)().prepare(load_classifier(params.model.name, 2), params.train[name], total_steps=4)
        peft = model.peft_config["default"]
        assert (peft.r, peft.lora_alpha, peft.lora_dropout, sorted(peft.target_modules)) == (3, 5.0, 0.02, ["key"]), name
        assert peft.task_type == "SEQ_CLS"
        adapted = {n for n, m in model.named_modules() if hasattr(m, "lora_A") and isinstance(m.lora_A, torch.nn.ModuleDict)}
        assert len(adapted) == 6 and all(n.endswith(".key") for n in adapted), name


def test_loraplus_passes_its_weight_decay_to_the_adapter_weights(tiny_raw):
    from harness.engine.models import load_classifier

    params = with_run(tiny_raw, "lp", {"method": "loraplus", "lr_ratio": 4})
    method, cfg = METHODS.get("loraplus")(), params.train["lp"]
    model = method.prepare(load_classifier(params.model.name, 2), cfg, total_steps=4)
    opt = method.optimizer(model, cfg, lr=1e-3, weight_decay=0.03)
    assert isinstance(opt, torch.optim.AdamW)
    decay_of = {id(p): g["weight_decay"] for g in opt.param_groups for p in g["params"]}
    lora = [p for n, p in model.named_parameters() if "lora_" in n and p.requires_grad]
    assert lora and {decay_of[id(p)] for p in lora} == {0.03}


@pytest.mark.parametrize("name", ["lora", "loraplus", "adalora"])
def test_the_peft_config_follows_the_model_a_causal_lm_keeps_its_head_and_a_deberta_pooler_trains(name):
    """What the task type and the head modules are read from: the model itself (a causal LM is CAUSAL_LM, a
    classifier SEQ_CLS with the head modules peft's wrapper would leave frozen, DeBERTa's pooler, to save)."""
    from transformers import DebertaV2Config, DebertaV2ForSequenceClassification, GPT2Config, GPT2LMHeadModel

    from harness.core.schema import validate

    method = METHODS.get(name)()
    torch.manual_seed(0)
    lm = GPT2LMHeadModel(GPT2Config(n_embd=32, n_layer=1, n_head=2, vocab_size=64, n_positions=32))
    cfg = validate(method.Config, {"method": name, "target_modules": ["c_attn"]}, "t")
    peft = method.prepare(lm, cfg, total_steps=20).peft_config["default"]
    assert peft.task_type == "CAUSAL_LM" and not peft.modules_to_save
    deberta = DebertaV2ForSequenceClassification(DebertaV2Config(hidden_size=32, num_hidden_layers=1, num_attention_heads=2,
                                                                 intermediate_size=37, vocab_size=64, num_labels=2))
    cfg = validate(method.Config, {"method": name, "target_modules": ["query_proj", "value_proj"]}, "t")
    peft = method.prepare(deberta, cfg, total_steps=20).peft_config["default"]
    assert peft.task_type == "SEQ_CLS" and "pooler" in peft.modules_to_save


def test_adalora_reports_the_modules_its_allocator_cut_below_init_r(monkeypatch):
    from harness.methods import adalora

    monkeypatch.setattr(adalora, "final_ranks", lambda model: {"a": 4, "b": 2, "c": 0})
    monkeypatch.setattr(adalora, "final_adapter_params", lambda model, ranks: 123)
    report = adalora.AdaLora().report(None, adalora.AdaLoraSettings(method="adalora", init_r=4, target_r=2))
    assert report == {"rank_pattern": {"a": 4, "b": 2, "c": 0}, "init_r": 4, "target_r": 2, "final_adapter_params": 123, "modules_below_init_r": 2}
