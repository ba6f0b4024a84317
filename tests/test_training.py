"""The Trainer-based loop: the plain recipe's arithmetic step for step, the method's hook where it belongs,
accumulation equal to the larger batch, gradient checkpointing equal to keeping activations, precision
refusals, and a killed stage resuming to the uninterrupted result."""

import dataclasses
import os
import shutil
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest
import torch
from transformers import get_scheduler

from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.core.seeding import seed_everything
from harness.engine.trainer import effective_batch, resolve_precision, total_steps, train, train_loader
from harness.methods.adalora import AdaLora
from harness.planted.benchmark import without_dropout
from harness.stages.common import run_method
from tests.conftest import set_runs, write_params

CPU = torch.device("cpu")


def fresh(params, run: str, steps: int, dropout: bool = True):
    method, cfg = run_method(params, run)
    seed_everything(0)
    model = method.prepare(method.base_model(params.model, params.data.num_labels, cfg), cfg, total_steps=steps)
    if not dropout:  # equal-gradient comparisons: dropout masks depend on the micro-batch shapes
        without_dropout(model)
    return method, cfg, model


def plain_loop(model, method, cfg, loader, loop, steps) -> list[float]:
    """The recipe written plainly: forward, backward, clip, step, schedule, the method's hook, zero_grad."""
    opt = method.optimizer(model, cfg, lr=cfg.lr or loop.lr, weight_decay=loop.weight_decay)
    sched = get_scheduler(loop.scheduler, opt, num_warmup_steps=int(loop.warmup_ratio * steps), num_training_steps=steps)
    trainable = [p for p in model.parameters() if p.requires_grad]
    model.train()
    losses, step = [], 0
    while step < steps:
        for batch in loader:
            if step == steps:
                break
            loss = model(**batch).loss
            loss.backward()
            torch.nn.utils.clip_grad_norm_(trainable, loop.max_grad_norm)
            opt.step()
            sched.step()
            method.before_zero_grad(model, step)
            opt.zero_grad(set_to_none=True)
            losses.append(loss.item())
            step += 1
    return losses


def trained(model) -> dict[str, torch.Tensor]:
    return {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}


@pytest.mark.parametrize("run", ["lora", "adalora"])
def test_trainer_loop_is_the_plain_recipe_step_for_step(run, tiny_raw, prepared):
    """Same seed, same batches: the Trainer's weights equal the plain loop's bit for bit, over more than one
    epoch (the loader reshuffles), and the logged loss windows are the plain loop's means."""
    splits, tokenizer = prepared
    params = parse_params(tiny_raw)
    loop = dataclasses.replace(params.loop, max_steps=15)  # 96 examples / 8 = 12 batches an epoch
    method, cfg, model = fresh(params, run, 15)
    losses = plain_loop(model, method, cfg, train_loader(splits["train"], tokenizer, 8, 0), loop, 15)
    expected = trained(model)
    method, cfg, model = fresh(params, run, 15)
    stats = train(model, method, cfg, train_loader(splits["train"], tokenizer, 8, 0), loop, 15, CPU, log_every=5)
    assert trained(model).keys() == expected.keys()
    assert all(torch.equal(expected[name], weights) for name, weights in trained(model).items())
    assert [step for step, _ in stats.loss_curve] == [5, 10, 15]
    assert stats.loss_curve[0][1] == pytest.approx(sum(losses[:5]) / 5, rel=1e-6)
    assert stats.tokens == sum(int(b["attention_mask"].sum()) for b, _ in zip(_epochs(splits, tokenizer), range(15)))


def _epochs(splits, tokenizer):
    loader = train_loader(splits["train"], tokenizer, 8, 0)
    while True:
        yield from loader


def test_adalora_allocates_from_on_optimizer_step(tiny_raw, prepared, monkeypatch):
    """The hook gets each step's 0-based index once, after the optimizer step, with the gradients still there."""
    splits, tokenizer = prepared
    params = parse_params(set_runs(tiny_raw, {"adalora": {"method": "adalora", "init_r": 4, "target_r": 2, "deltaT": 1}}))
    seen = []
    original = AdaLora.before_zero_grad

    def spy(self, model, step):
        seen.append((step, any(p.grad is not None for p in model.parameters() if p.requires_grad)))
        original(self, model, step)

    monkeypatch.setattr(AdaLora, "before_zero_grad", spy)
    method, cfg, model = fresh(params, "adalora", 6)
    train(model, method, cfg, train_loader(splits["train"], tokenizer, 8, 0), params.loop, 6, CPU)
    assert seen == [(step, True) for step in range(6)]


def test_accumulation_equals_the_larger_batch(tiny_raw, prepared):
    """Two micro-batches of 8 accumulate to the gradient of one batch of 16 (dropout off), each micro-batch's loss
    counts half (the logged losses match: Adam alone would hide a doubled gradient), and the effective batch counts
    both. The two runs' updates agree in norm to 1%, not element by element: float summation order differs, and
    Adam's normalisation turns that noise on a near-zero gradient entry into up to ~lr on that entry (measured: one
    entry of 3,072 off by 1.5e-5 on LoRA B weights ~5e-4; in norm every tensor within 0.05%). Stepping on every
    micro-batch, or keeping only one micro-batch's gradient, moves them by tens of percent."""
    splits, tokenizer = prepared
    params = parse_params(tiny_raw)
    whole = dataclasses.replace(params.loop, max_steps=4, batch_size=16)
    accumulated = dataclasses.replace(whole, batch_size=8, gradient_accumulation_steps=2)
    assert effective_batch(whole) == effective_batch(accumulated) == 16
    assert total_steps(dataclasses.replace(accumulated, max_steps=0, epochs=1.0), 96) == 6

    method, cfg, model = fresh(params, "lora", 4, dropout=False)
    start = trained(model)
    whole_stats = train(model, method, cfg, train_loader(splits["train"], tokenizer, 16, 0), whole, 4, CPU, log_every=1)
    expected = trained(model)
    method, cfg, model = fresh(params, "lora", 4, dropout=False)
    # the same 16 examples per step, in two halves: the batches of 16 in order, split
    halves = [{k: v[i : i + 8] for k, v in batch.items()} for batch in train_loader(splits["train"], tokenizer, 16, 0) for i in (0, 8)]
    loader = torch.utils.data.DataLoader(halves, batch_size=None)
    stats = train(model, method, cfg, loader, accumulated, 4, CPU, log_every=1)
    assert [loss for _, loss in stats.loss_curve] == pytest.approx([loss for _, loss in whole_stats.loss_curve], rel=1e-4)
    for name, weights in trained(model).items():
        moved, want = weights - start[name], expected[name] - start[name]
        assert torch.linalg.vector_norm(moved - want) <= 0.01 * torch.linalg.vector_norm(want), name


def test_gradient_checkpointing_changes_memory_not_the_weights(tiny_raw, prepared):
    splits, tokenizer = prepared
    params = parse_params(tiny_raw)
    method, cfg, model = fresh(params, "lora", 4)
    train(model, method, cfg, train_loader(splits["train"], tokenizer, 8, 0), params.loop, 4, CPU)
    expected = trained(model)
    method, cfg, model = fresh(params, "lora", 4)
    checkpointed = dataclasses.replace(params.loop, gradient_checkpointing=True)
    train(model, method, cfg, train_loader(splits["train"], tokenizer, 8, 0), checkpointed, 4, CPU)
    for name, weights in trained(model).items():
        torch.testing.assert_close(weights, expected[name], rtol=1e-5, atol=1e-7)


def test_precision_auto_is_fp32_on_cpu_and_fp16_needs_cuda():
    assert resolve_precision("auto", CPU) == "fp32"
    assert resolve_precision("bf16", CPU) == "bf16"
    with pytest.raises(HarnessError, match="loop.precision: fp16"):
        resolve_precision("fp16", CPU)


def dvclive_points(folder: Path, name: str) -> list[tuple[int, float]]:
    """The (step, value) rows of metric ``name`` in DVCLive folder ``folder``."""
    rows = (folder / "plots" / "metrics" / f"{name}.tsv").read_text().splitlines()
    assert rows[0] == f"step\t{name}"
    return [(int(step), float(value)) for step, value in (row.split("\t") for row in rows[1:])]


def stage(workspace, *args, **popen):
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.Popen([sys.executable, "-m", "harness.core.cli", *args], cwd=workspace, env=env, stderr=subprocess.PIPE, text=True, **popen)


def finished(proc) -> str:
    _, err = proc.communicate(timeout=600)
    assert proc.returncode == 0, err[-3000:]
    return err


@dataclasses.dataclass(frozen=True)
class TrainingStage:
    """A stage that trains through harness/engine/trainer.py, as the resume test drives it."""

    command: str
    before: tuple[tuple[str, ...], ...]  # the stage commands it needs first ({run}: the run)
    results: str  # where it writes results/<...>/<run>.json
    models: str  # and models/<...>/<run>/seed_<s>
    steps: int  # enough that a kill lands before the end

    def configure(self, raw: dict, run: str) -> None:
        if self.command == "train":
            set_runs(raw, {run: raw["train"][run]})
            raw["loop"].update(max_steps=self.steps, checkpoint_every=10)
        else:
            raw["causal"]["loop"].update(max_steps=self.steps, checkpoint_every=10)

    def result(self, workspace, run: str):
        from safetensors.torch import load_file

        figures = read_json(workspace / self.results / f"{run}.json")["seeds"]["0"]
        return figures, load_file(workspace / self.models / run / "seed_0" / "adapter_model.safetensors")


TRAIN = TrainingStage("train", (("prepare",), ("tune", "{run}")), "results/train", "models", 40)
CAUSAL_TRAIN = TrainingStage("causal-train", (("causal-data",), ("causal-base",)), "results/causal/train", "models/causal", 200)


@pytest.mark.slow
@pytest.mark.parametrize(("kind", "run"), [(TRAIN, "lora"), (TRAIN, "adalora"), (CAUSAL_TRAIN, "lora")], ids=["train-lora", "train-adalora", "causal-lora"])
def test_a_killed_train_stage_resumes_to_the_uninterrupted_result(kind, run, workspace, tiny_raw):
    """SIGKILL the stage (its process group: the seed runs in a forked child) once a checkpoint is complete;
    the rerun resumes from it, removes the killed run's scratch folder, and ends with the loss curve,
    validation curve, token count and adapter weights of a run that was never interrupted."""
    kind.configure(tiny_raw, run)
    write_params(workspace, tiny_raw)
    for args in kind.before:
        finished(stage(workspace, *(a.format(run=run) for a in args)))

    proc = stage(workspace, kind.command, run, start_new_session=True)
    deadline = time.monotonic() + 300
    while not list(workspace.glob("checkpoints/**/checkpoint-10/trainer_state.json")):
        assert proc.poll() is None and time.monotonic() < deadline, "the stage ended before its first checkpoint"
        time.sleep(0.01)
    os.killpg(proc.pid, signal.SIGKILL)
    proc.wait()
    models = workspace / kind.models
    assert not (workspace / kind.results / f"{run}.json").exists()
    assert list(models.glob(f".{run}.partial-*")), "the killed run left no scratch folder to clean"

    log = finished(stage(workspace, kind.command, run))
    assert "resuming from checkpoints/" in log
    assert not list(models.glob(".*")), "the killed run's scratch folder is still there"
    assert not list((workspace / "checkpoints").rglob("checkpoint-*")), "a finished run keeps no checkpoint"
    resumed, resumed_adapter = kind.result(workspace, run)
    loop = tiny_raw["loop"] if kind is TRAIN else tiny_raw["causal"]["loop"]
    assert (resumed["effective_batch"], resumed["precision"]) == (loop["batch_size"], "fp32")
    if kind is TRAIN:  # its DVC plots are DVCLive's files and hold every step, those before the kill too
        live = workspace / "results" / "curves" / run / "seed_0"
        assert dvclive_points(live, "loss") == [tuple(p) for p in resumed["loss_curve"]]
        assert dvclive_points(live, "validation") == [tuple(p) for p in resumed["val_curve"]]

    shutil.rmtree(models / run)
    log = finished(stage(workspace, kind.command, run))
    assert "resuming" not in log
    uninterrupted, adapter = kind.result(workspace, run)
    for key in ("loss_curve", "val_curve", "train_tokens", "final_loss", "method_report"):
        assert resumed[key] == uninterrupted[key], key
    assert adapter.keys() == resumed_adapter.keys()
    assert all(torch.equal(adapter[k], resumed_adapter[k]) for k in adapter)


def test_curves_go_to_tensorboard_and_dvclive(tiny_raw, prepared):
    """The loss and validation points a run records are the ones its trackers receive, step for step, and
    DVCLive's dvc.yaml declares its curves once however often it is rewritten."""
    from dvclive.serialize import load_yaml
    from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

    splits, tokenizer = prepared  # the workspace is the working directory: runs/ and dvclive/ land there
    params = parse_params(tiny_raw)
    loop = dataclasses.replace(params.loop, report_to=["tensorboard", "dvclive"])
    method, cfg, model = fresh(params, "lora", 6)
    stats = train(model, method, cfg, train_loader(splits["train"], tokenizer, 8, 0), loop, 6, CPU, log_every=2, tracker=lambda model: 50.0,
                  track_every=3, log_name="train/lora/seed_0")
    events = EventAccumulator("runs/train/lora/seed_0").Reload()
    loss = [(e.step, e.value) for e in events.Scalars("train/loss")]
    assert [s for s, _ in loss] == [s for s, _ in stats.loss_curve] == [2, 4, 6]
    assert [v for _, v in loss] == pytest.approx([v for _, v in stats.loss_curve])
    assert [(e.step, e.value) for e in events.Scalars("train/validation")] == stats.val_curve == [(3, 50.0), (6, 50.0)]
    live = Path("dvclive/train/lora/seed_0")
    assert dvclive_points(live / "live", "loss") == stats.loss_curve
    assert dvclive_points(live / "live", "validation") == stats.val_curve
    declared = load_yaml(live / "dvc.yaml")
    assert declared["metrics"] == ["live/metrics.json"] and declared["plots"] == [{"live/plots/metrics": {"x": "step"}}]
