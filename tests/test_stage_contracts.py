"""Each stage's one-line promise, held through the real stage code on the shrunk config. The expected values are
worked out here from the promise itself (the grid's best point, the AdaLoRA schedule's formula, the files' bytes,
the parameters a backward pass reaches), never by calling the code under test a second time, so a defect on any
line that breaks the promise fails one of these tests."""

from __future__ import annotations

import dataclasses
import hashlib
import json
import math
import shutil
import subprocess
from pathlib import Path

import pytest
import torch
import yaml
from transformers import AutoConfig, AutoModel

from harness.claims.gate import compare
from harness.claims.judges import ORDER
from harness.commands import run_profile as run_profile_module
from harness.commands.current import dirty_results
from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.core.registry import METHODS
from harness.engine.fit_seed import fit_seed
from harness.engine.inference import score
from harness.methods.adalora import AdaLora
from harness.stages import paperscale, prepare, tune
from harness.stages.common import load_prepared
from tests.conftest import ROOT, paperscale_spec, set_runs, shrunk_architecture

# --- tune: scores every grid point on validation, keeps the best --------------------------------------------------


def test_tune_scores_every_grid_point_on_validation_and_keeps_the_best(workspace, tiny_raw, monkeypatch):
    """Every score the tune stage records is its point's model, trained at that point's lr, scored on the validation
    split (recomputed here); only the validation split is ever predicted on; the choice is the best score, ties to
    the factor nearest 1 and then the smaller."""
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    factors = [0.3, 1.0, 30.0]
    tiny_raw["tuning"]["factors"] = factors
    params = parse_params(tiny_raw)
    prepare.run(params)
    splits, tokenizer = load_prepared()
    predicted_on = []
    real_predict = tune.predict

    def spy(model, dataset, *args, **kwargs):
        predicted_on.append(dataset["input_ids"])
        return real_predict(model, dataset, *args, **kwargs)

    monkeypatch.setattr(tune, "predict", spy)
    result = tune.run(params, "lora")
    assert len(predicted_on) == len(result["grid"])  # one prediction per grid point (an edge optimum adds points), each on validation
    assert all(ids == splits["validation"]["input_ids"] for ids in predicted_on)
    assert splits["validation"]["input_ids"] not in (splits["train"]["input_ids"], splits["test"]["input_ids"])

    default = tiny_raw["train"]["lora"].get("lr") or tiny_raw["loop"]["lr"]
    assert [p["factor"] for p in result["grid"]][:len(factors)] == factors
    assert [p["lr"] for p in result["grid"]] == pytest.approx([default * p["factor"] for p in result["grid"]])
    method, cfg = METHODS.get("lora")(), params.train["lora"]
    metric = params.data.metrics[0]
    for point in result["grid"]:
        model, _ = fit_seed(params, "lora", method, dataclasses.replace(cfg, lr=point["lr"]), params.tuning.seed, splits, tokenizer, track=False)
        preds, labels, _ = real_predict(model, splits["validation"], tokenizer, params.loop.eval_batch_size, torch.device("cpu"))
        assert point["validation"] == pytest.approx(score(preds, labels, [metric])[metric], abs=1e-9)
    best = max(p["validation"] for p in result["grid"])
    winners = [p for p in result["grid"] if p["validation"] == best]
    assert result["chosen_lr"] == min(winners, key=lambda p: (abs(math.log(p["factor"])), p["factor"]))["lr"]
    assert result["split"] == "validation" and result["seed"] == params.tuning.seed


# --- AdaLoRA: warm-up, pruning and final phases where tinit / tfinal say ------------------------------------------


def cubic_budget(step: int, init: int, target: int, tinit: int, tfinal: int, total: int) -> int:
    """AdaLoRA's budget schedule (Zhang et al. 2023, eq. 11, as peft's allocator implements it): ``init`` until
    ``tinit``, then a cubic decrease to ``target``, reached ``tfinal`` steps before the end."""
    if step <= tinit:
        return init
    if step >= total - tfinal:
        return target
    return int((init - target) * (1 - (step - tinit) / (total - tfinal - tinit)) ** 3 + target)


@pytest.mark.parametrize("tinit, tfinal, steps", [(0.2, 0.3, (4, 6)), (3, 5, (3, 5))], ids=["fractions", "steps"])
def test_adalora_phases_fall_where_tinit_and_tfinal_say(tiny_raw, prepared, monkeypatch, tinit, tfinal, steps):
    """Training a run of 20 steps through the real fitting code: the allocator sees each optimizer step once, in
    order; no triplet is pruned during the warm-up; at every reallocation step (every ``deltaT``) exactly the cubic
    schedule's budget of singular values is kept; from ``tfinal`` steps before the end exactly ``target_r`` per
    module, and the same triplets, to the end."""
    splits, tokenizer = prepared
    total, deltaT, init_r, target_r = 20, 2, 4, 2
    tiny_raw["loop"].update(max_steps=total, warmup_ratio=0.0)  # no zero-lr first step: every singular value moves at once
    run = {"method": "adalora", "init_r": init_r, "target_r": target_r, "tinit": tinit, "tfinal": tfinal, "deltaT": deltaT}
    params = parse_params(set_runs(tiny_raw, {"adalora": run}))
    seen: list[tuple[int, int, frozenset]] = []
    real_hook = AdaLora.before_zero_grad

    def observed(self, model, step):
        real_hook(self, model, step)
        kept = frozenset((n, i) for n, p in model.named_parameters() if ".lora_E." in n for i in torch.nonzero(p.detach().flatten()).flatten().tolist())
        seen.append((step, len(kept), kept))

    monkeypatch.setattr(AdaLora, "before_zero_grad", observed)
    fit_seed(params, "adalora", AdaLora(), params.train["adalora"], 0, splits, tokenizer, track=False)
    modules = 12  # query and value in each of MiniLM's 6 layers
    init, target = init_r * modules, target_r * modules
    t_init, t_final = steps
    assert [s for s, _, _ in seen] == list(range(total))
    pruning = [s for s in range(t_init + 1, total - t_final) if s % deltaT == 0]
    assert pruning, "the schedule leaves no reallocation step: the test would hold nothing"
    for step, kept, _ in seen:
        if step <= t_init:
            assert kept == init, f"step {step}: warm-up pruned ({kept} of {init} kept)"
        elif step in pruning or step >= total - t_final:
            assert kept == cubic_budget(step, init, target, t_init, t_final, total), f"step {step}: {kept} kept"
    final = [k for s, _, k in seen if s >= total - t_final]
    assert len(set(final)) == 1  # the final allocation never changes


# --- a data source: every file it reads is hashed into what prepare records ---------------------------------------


def write_rows(path: Path, fmt: str, rows: list[tuple[str, int]], header: bool) -> None:
    if fmt == "jsonl":
        path.write_text("".join(json.dumps({"sentence": t, "label": y}) + "\n" for t, y in rows))
        return
    sep = "\t" if fmt == "tsv" else ","
    head = [f"sentence{sep}label"] if header else []
    path.write_text("\n".join([*head, *(f"{t}{sep}{y}" for t, y in rows)]) + "\n")


@pytest.mark.parametrize("fmt, header", [("tsv", True), ("csv", True), ("jsonl", True), ("tsv", False)])
def test_every_file_a_local_source_reads_is_hashed(workspace, tiny_raw, monkeypatch, fmt, header):
    """prepare.json records the sha256 of exactly the files the local source reads (spied at the reader), equal to
    the files' bytes; editing one file changes its hash and the content hash of the splits made from it, and
    nothing else."""
    import harness.data.local as local

    words = ["good", "bad", "fine", "awful", "great", "poor", "nice", "dull"]
    rows = [(f"a {words[i % 8]} film number {i}", int(words[i % 8] in ("good", "fine", "great", "nice"))) for i in range(64)]
    train, test = workspace / f"train.{fmt}", workspace / f"dev.{fmt}"
    write_rows(train, fmt, rows[:48], header)
    write_rows(test, fmt, rows[48:], header)
    local_cfg = {"train": str(train), "eval": str(test), "header": header,
                 "text_column": "sentence" if header else 0, "label_column": "label" if header else 1}
    tiny_raw["data"].update(source="local")
    tiny_raw["data"]["local"].update(local_cfg)
    tiny_raw["data"]["validation_size"] = 8
    read: set[str] = set()
    real_load = local.load_dataset

    def spy(*args, data_files, **kwargs):
        read.update(str(Path(p).resolve()) for p in data_files.values())
        return real_load(*args, data_files=data_files, **kwargs)

    monkeypatch.setattr(local, "load_dataset", spy)

    def prepared_record() -> dict:
        prepare.run(parse_params(tiny_raw))
        return read_json(workspace / "results" / "prepare.json")

    before = prepared_record()
    hashed = {str(Path(p).resolve()): h for p, h in before["file_sha256"].items()}
    assert read == set(hashed) == {str(train), str(test)}
    assert all(h == hashlib.sha256(Path(p).read_bytes()).hexdigest() for p, h in hashed.items())
    for path, splits in ((train, {"train", "validation"}), (test, {"test"})):
        edited = [(t + " again", y) if i == 0 else (t, y) for i, (t, y) in enumerate(rows[:48] if path == train else rows[48:])]
        write_rows(path, fmt, edited, header)
        after = prepared_record()
        changed = {Path(p).name for p in after["file_sha256"] if after["file_sha256"][p] != before["file_sha256"][p]}
        assert changed == {path.name}
        assert {s for s in after["content_sha256"] if after["content_sha256"][s] != before["content_sha256"][s]} <= splits
        assert after["content_sha256"] != before["content_sha256"]
        before = after


# --- paperscale: counts what the method trains; the committed counts are a recomputation ---------------------------

@pytest.mark.parametrize("entry", sorted(paperscale_spec()["entries"]))
def test_paperscale_counts_the_parameters_the_method_trains(entry):
    """On each entry's architecture shrunk (same model type, same module names): the stage's trainable count is
    the number of parameters a backward pass through the prepared model gives a gradient, and its base count the
    parameters of the model as built."""
    spec = paperscale_spec()
    raw = spec["entries"][entry]
    arch = shrunk_architecture(spec["architectures"][raw["architecture"]])
    counted = paperscale.count(arch, raw["method"], f"entries.{entry}.method")
    fields = dict(arch)
    config = AutoConfig.for_model(fields.pop("model_type"), **fields)
    torch.manual_seed(0)
    model = AutoModel.from_config(config)
    assert counted["base_params"] == sum(p.numel() for p in model.parameters())
    method = METHODS.get(raw["method"]["method"])()
    from harness.core.schema import validate

    model = method.prepare(model, validate(method.Config, raw["method"], entry), total_steps=1000)
    for p in model.parameters():  # AdaLoRA's singular values start at zero: give every path a gradient
        if p.requires_grad and not p.any():
            torch.nn.init.normal_(p.data)
    out = model(input_ids=torch.randint(0, 128, (2, 8)))
    sum(v.float().sum() for v in out.values() if isinstance(v, torch.Tensor)).backward()
    reached = sum(p.numel() for p in model.parameters() if p.grad is not None)
    assert counted["trainable_params"] == reached > 0


def test_the_committed_paperscale_counts_equal_a_recomputation():
    """results/paperscale.json is what the stage computes from experiments/paperscale.yaml now, entry for entry."""
    committed = read_json(ROOT / "results" / "paperscale.json")
    fresh = paperscale.run(paperscale_spec())
    assert set(fresh) == set(committed) - {"provenance"}
    for name, counts in fresh.items():
        assert counts == pytest.approx(committed[name], rel=1e-12), name


def test_the_paperscale_stage_writes_its_counts_with_provenance(tmp_path, monkeypatch):
    """`harness paperscale` writes what run() counts from the spec, with the provenance record; without the spec it
    stops naming the file and writes nothing."""
    monkeypatch.chdir(tmp_path)
    with pytest.raises(HarnessError, match=r"^experiments/paperscale.yaml: not found$"):
        paperscale.main([])
    assert not (tmp_path / "results").exists()
    spec = paperscale_spec()
    name = min(spec["entries"])
    spec = {"architectures": spec["architectures"], "entries": {name: spec["entries"][name]}}
    (tmp_path / "experiments").mkdir()
    (tmp_path / "experiments" / "paperscale.yaml").write_text(yaml.safe_dump(spec))
    paperscale.main([])
    written = read_json(tmp_path / "results" / "paperscale.json")
    assert {k: v for k, v in written.items() if k != "provenance"} == paperscale.run(spec)
    assert written["provenance"]["packages"]["torch"] and "git" in written["provenance"]


def test_a_paperscale_spec_naming_what_does_not_exist_stops_in_one_line():
    spec = paperscale_spec()
    name = min(spec["entries"])
    entry = spec["entries"][name]
    with pytest.raises(HarnessError, match=rf"^experiments/paperscale.yaml: entries.{name}.architecture: unknown 'nope'; known: "
                                           rf"{', '.join(spec['architectures'])}$"):
        paperscale.run({"architectures": spec["architectures"], "entries": {name: {**entry, "architecture": "nope"}}})
    with pytest.raises(HarnessError, match=rf"^experiments/paperscale.yaml: entries.{name}.method.method: required key is missing; known: "
                                           rf"{', '.join(METHODS.names())}$"):
        paperscale.run({"architectures": spec["architectures"], "entries": {name: {**entry, "method": {}}}})
    with pytest.raises(HarnessError, match=rf"^experiments/paperscale.yaml: entries.{name}.method.r: "):
        paperscale.run({"architectures": spec["architectures"], "entries": {name: {**entry, "method": {"method": "lora", "r": 0}}}})
    without = {k: v for k, v in entry.items() if k != "method"}  # no method at all: the same line
    with pytest.raises(HarnessError, match=rf"^experiments/paperscale.yaml: entries.{name}.method.method: required key is missing"):
        paperscale.run({"architectures": spec["architectures"], "entries": {name: without}})
    with pytest.raises(HarnessError, match=rf"^experiments/paperscale.yaml: entries.{name}.architecture: unknown '{entry['architecture']}'; known: $"):
        paperscale.run({"entries": {name: entry}})  # no architectures section: none known


def test_the_quantization_constants_stand_alone_and_use_65b_without_the_llama_entry():
    """QLoRA's double-quantisation saving (bits per parameter: 32/64 plain, 8/64 + 32/(64*256) doubled) is written
    even for a spec with no entries, at 65e9 parameters when the LLaMA-65B count is not there."""
    quant = paperscale.run({})["quantization"]
    saving = 32 / 64 - (8 / 64 + 32 / (64 * 256))
    assert quant == pytest.approx({"constant_bits_per_param_plain": 0.5, "constant_bits_per_param_double_quant": 8 / 64 + 32 / (64 * 256),
                                   "double_quant_saving_bits_per_param": saving, "double_quant_saving_gb_at_65b": saving * 65e9 / 8 / 1e9}, rel=1e-12)


# --- freshness: a result written from a dirty tree anywhere under results/ fails it --------------------------------


def test_a_dirty_result_anywhere_under_results_fails_freshness(tmp_path):
    """For every folder of the committed results that holds result files, one of them rewritten as from a dirty
    tree is found (and nothing else is); the committed results hold none."""
    committed = ROOT / "results"
    assert dirty_results(committed) == []
    folders = sorted({p.parent for p in committed.rglob("*.json")})
    assert len(folders) >= 20  # default, studies, profiles, causal track, reference: every kind of result folder
    for folder in folders:
        sample = min(folder.glob("*.json"))
        results = tmp_path / folder.relative_to(committed.parent).as_posix().replace("/", "_")
        planted = results / sample.relative_to(committed)
        planted.parent.mkdir(parents=True)
        record = json.loads(sample.read_text())
        record["provenance"]["git"]["dirty"] = True
        planted.write_text(json.dumps(record))
        shutil.copy(sample, planted.with_name("clean.json"))
        assert dirty_results(results) == [str(planted)], sample


# --- run-profile: a failed pipeline never replaces the committed results -------------------------------------------


def test_a_failed_profile_run_leaves_its_committed_results_as_they_were(tmp_path, monkeypatch):
    """``dvc repro`` failing in the profile's checkout, or the copy-back failing half way, raises and leaves
    results/profiles/<name>/ byte for byte as committed, with no scratch folder beside it."""
    root = tmp_path / "repo"
    (root / "experiments" / "profiles").mkdir(parents=True)
    (root / "experiments" / "profiles" / "p.yaml").write_text("profile: p\n")
    dest = root / "results" / "profiles" / "p"
    (dest / "eval").mkdir(parents=True)
    (dest / "eval" / "lora.json").write_text('{"committed": true}\n')
    (dest / "run.json").write_text('{"invocations": []}\n')
    work = tmp_path / "work"
    (work / "results" / "eval").mkdir(parents=True)
    (work / "results" / "eval" / "lora.json").write_text('{"new": true}\n')
    (work / "results" / "tune").mkdir()
    (work / "params.yaml").write_text("profile: p\n")

    def snapshot() -> dict:
        return {str(p.relative_to(root)): p.read_bytes() for p in sorted((root / "results").rglob("*")) if p.is_file()}

    committed = snapshot()
    monkeypatch.setattr(run_profile_module, "load_validated", lambda source: type("P", (), {"profile": "p"})())
    monkeypatch.setattr(run_profile_module, "git_state", lambda where: {"sha": "0" * 40, "dirty": False})
    monkeypatch.setattr(run_profile_module, "check_runs_in_one_pipeline", lambda *a: None)  # tests/test_paper_profiles.py's
    monkeypatch.setattr(run_profile_module, "checkout", lambda *a: work)
    monkeypatch.setattr(run_profile_module, "lay_out", lambda *a: None)
    real_run = subprocess.run

    def dvc_exits(code: int):
        def fake(args, *rest, **kwargs):  # only the profile's pipeline is faked; everything else runs
            return subprocess.CompletedProcess(args, code) if "preload" in args else real_run(args, *rest, **kwargs)
        return fake

    monkeypatch.setattr(subprocess, "run", dvc_exits(1))
    with pytest.raises(HarnessError, match="dvc repro failed"):
        run_profile_module.run_profile("p", [], root)
    assert snapshot() == committed

    monkeypatch.setattr(subprocess, "run", dvc_exits(0))
    real_copy = run_profile_module.copy_outputs

    def breaks_half_way(results, into):
        real_copy(results, into)
        raise OSError("disk full")

    monkeypatch.setattr(run_profile_module, "copy_outputs", breaks_half_way)
    with pytest.raises(OSError, match="disk full"):
        run_profile_module.run_profile("p", [], root)
    assert snapshot() == committed  # and no half-copied scratch folder left beside it


# --- the gate: every held claim's estimate is checked, whatever its verdict did ------------------------------------

HELD = [v for v in ORDER if v != "not run"]


@pytest.mark.parametrize("was", HELD)
@pytest.mark.parametrize("now", HELD)
def test_the_gate_checks_the_estimate_whatever_the_verdict_did(was, now):
    """A held claim whose estimate left its previous 95% interval towards failing its region is a regression, whether
    its verdict dropped, held or improved; the same move away from failure is not, unless the verdict dropped."""
    region = [0.0, None]  # "at least 0": failing is moving down
    expected = {"held": {"c": {"verdict": was, "estimate": 5.0, "ci95": [4.0, 6.0], "region": region}}, "not_run": []}

    def row(estimate):
        return [{"id": "c", "verdict": now, "estimate": estimate, "detail": "", "gate": True}]

    worse, _ = compare(expected, row(3.0))
    assert len(worse) == 1 and worse[0].startswith("c: ")
    worse, better = compare(expected, row(7.0))
    assert bool(worse) == (ORDER[now] < ORDER[was])
    assert bool(better) == (ORDER[now] > ORDER[was])


# --- a look of the seed plan: a rerun trains only the seeds it adds ------------------------------------------------


def test_a_rerun_with_seeds_added_keeps_the_tuning_and_every_finished_seed(workspace, tiny_raw, monkeypatch):
    """Seeds added to a run (what `harness seed-plan --apply` does) leave its tuning as it was, untrained, and keep
    every seed already trained, byte for byte (its recorded timing too), with the commit it was trained at; only the
    new seed trains, and the evaluate stage reads every seed's model. A seed whose saved model changed, or any input
    of the work changed, trains again."""
    from harness.stages import evaluate, train

    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    params = parse_params(tiny_raw)
    prepare.run(params)
    monkeypatch.setattr("harness.stages.common.record", lambda **kw: {"git": {"sha": "c0ffee", "dirty": False}, "seeds": kw["seeds"]})
    tuned = tune.run(params, "lora")
    train.run(params, "lora")
    first = read_json(Path("results/train/lora.json"))  # as written (JSON: a curve's points are lists)
    assert first["kept_from"] is None and set(first["seeds"]) == {"0"}
    trained = []
    real_train_seed = train.train_seed

    def counted(params, run, seed, *args, **kwargs):
        trained.append(seed)
        return real_train_seed(params, run, seed, *args, **kwargs)

    monkeypatch.setattr(train, "train_seed", counted)
    monkeypatch.setattr(tune, "load_prepared", lambda *a: pytest.fail("a kept tuning loads no data"))
    monkeypatch.setattr("harness.stages.common.record", lambda **kw: {"git": {"sha": "beef", "dirty": False}, "seeds": kw["seeds"]})
    tiny_raw["train"]["lora"]["seeds"] = [0, 1]
    look = parse_params(tiny_raw)
    assert tune.run(look, "lora") == tuned == read_json(Path("results/tune/lora.json"))
    train.run(look, "lora")
    more = read_json(Path("results/train/lora.json"))
    assert trained == [1]
    assert more["seeds"]["0"] == first["seeds"]["0"] and more["kept_from"] == {"0": "c0ffee"}
    assert sorted(p.name for p in Path("models/lora").iterdir()) == ["seed_0", "seed_1"]
    assert sorted(p.name for p in Path("results/curves/lora").iterdir()) == ["seed_0", "seed_1"]
    assert set(evaluate.run(look, "lora")["seeds"]) == {"0", "1"}

    again = train.run(look, "lora")  # a seed kept before keeps the commit it was first trained at
    assert trained == [1] and again["kept_from"] == {"0": "c0ffee", "1": "beef"}
    with open(min(p for p in Path("models/lora/seed_1").rglob("*") if p.is_file()), "ab") as f:
        f.write(b"\0")  # seed 1's saved model is no longer the one its record names
    assert train.run(look, "lora")["kept_from"] == {"0": "c0ffee"} and trained == [1, 1]
    tiny_raw["loop"]["max_steps"] += 1  # an input of the work changed: nothing is kept
    changed = parse_params(tiny_raw)
    monkeypatch.setattr(tune, "load_prepared", load_prepared)
    assert tune.run(changed, "lora")["key"] != tuned["key"]
    assert train.run(changed, "lora")["kept_from"] is None and trained == [1, 1, 0, 1]


def test_the_work_key_is_everything_but_the_seeds(monkeypatch):
    """The key a rerun keeps work under ignores the seeds (the run's and the top level's) and changes with the run's
    settings, every section it reads, what else the stage read, the code and the machine."""
    import copy

    from harness.engine import kept

    raw = yaml.safe_load((ROOT / "params.yaml").read_text())

    def key(change=lambda r: None, run="lora", hashes="a"):
        changed = copy.deepcopy(raw)
        change(changed)
        return kept.work_key(parse_params(changed), run, hashes={"train": hashes})

    base = key()
    assert key(lambda r: r["train"]["lora"].update(seeds=[0, 1, 2, 3, 4])) == key(lambda r: r.update(seeds=[7])) == base
    assert key(hashes="b") != base and key(run="adalora") != base
    for change in (lambda r: r["train"]["lora"].update(r=4), lambda r: r["loop"].update(max_steps=7),
                   lambda r: r["model"].update(max_length=33), lambda r: r["data"].update(validation_size=5)):
        assert key(change) != base
    monkeypatch.setattr(kept, "code_digest", lambda: "other code")
    assert key() != base
    monkeypatch.undo()
    real_hardware = kept.hardware
    monkeypatch.setattr(kept, "hardware", lambda: {**real_hardware(), "cpu_model": "another CPU"})
    assert key() != base


def test_only_a_clean_result_under_the_same_key_is_kept(tmp_path):
    from harness.engine import kept

    path = tmp_path / "r.json"
    assert kept.kept_result(path, "k") is None
    path.write_text(json.dumps({"key": "k", "provenance": {"git": {"sha": "s", "dirty": False}}}))
    assert kept.kept_result(path, "k")["key"] == "k" and kept.kept_result(path, "other") is None
    path.write_text(json.dumps({"key": "k", "provenance": {"git": {"sha": "s", "dirty": True}}}))
    assert kept.kept_result(path, "k") is None
    path.write_text(json.dumps({"provenance": {"git": {"sha": "s", "dirty": False}}}))  # written before keys existed
    assert kept.kept_result(path, "k") is None
