"""The training loop shared by every method: transformers' ``Trainer`` with the method's hooks and our
measurements as callbacks.

The Trainer brings what a user of the paper profiles needs on real hardware: mixed precision, gradient
accumulation, gradient checkpointing and data parallelism through ``accelerate launch`` (DDP; FSDP or
DeepSpeed by accelerate's own config). The method registry stays the one place a method is defined: the
Trainer asks the method for its optimizer (LoRA+ is peft's ``create_loraplus_optimizer``) and calls its
``before_zero_grad`` from ``on_optimizer_step`` ("after the optimizer step but before gradients are
zeroed out": where AdaLoRA's ``update_and_allocate`` belongs). ``benchmarks/loop_overhead.py`` measures
the loop against a bare peft loop on the same batches.

On CPU in fp32 without accumulation the arithmetic is the hand-written loop's it replaced, step for step
(same batches, clipping, optimizer, schedule and dropout stream): tests/test_training.py checks that.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import json
import logging
import math
import shutil
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import torch
from torch import nn
from torch.utils.data import DataLoader
from transformers import DataCollatorWithPadding, PrinterCallback, Trainer, TrainerCallback, TrainingArguments
from transformers.integrations import DVCLiveCallback
from transformers.trainer_pt_utils import LengthGroupedSampler
from transformers.trainer_utils import PREFIX_CHECKPOINT_DIR

from harness.core.config import LoopConfig
from harness.core.errors import HarnessError
from harness.core.paths import CHECKPOINTS, DVCLIVE_LOGS, TENSORBOARD_LOGS
from harness.core.ranks import is_main_process, world_size
from harness.engine.resources import PeakMemory
from harness.methods.base import Method

log = logging.getLogger("harness.engine.trainer")


def effective_batch(loop: LoopConfig) -> int:
    """Examples per optimizer step: per-device batch x accumulation steps x processes."""
    return loop.batch_size * loop.gradient_accumulation_steps * world_size()


def total_steps(loop: LoopConfig, n_train: int) -> int:
    """Optimizer steps: ``max_steps``, or ``epochs`` passes at the effective batch."""
    if loop.max_steps:
        return loop.max_steps
    return max(1, math.ceil(loop.epochs * math.ceil(n_train / effective_batch(loop))))


def train_loader(dataset, tokenizer, batch_size: int, seed: int, group_by_length: bool = False, collate_fn=None) -> DataLoader:
    """Shuffled batches, padded per batch to its longest sequence (by ``collate_fn``, default: pad
    inputs only); the order is fixed by ``seed``.

    With ``group_by_length`` the shuffle is transformers' ``LengthGroupedSampler`` (random mega-batches,
    sorted by length inside), which cuts the padding the GEMMs spend time on.
    """
    generator = torch.Generator().manual_seed(seed)
    sampler = None
    if group_by_length:
        lengths = [len(ids) for ids in dataset["input_ids"]]
        sampler = LengthGroupedSampler(batch_size, lengths=lengths, generator=generator)
    return DataLoader(
        dataset,
        batch_size=batch_size,
        shuffle=sampler is None,
        sampler=sampler,
        generator=generator if sampler is None else None,
        collate_fn=collate_fn or DataCollatorWithPadding(tokenizer),
    )


@dataclasses.dataclass
class TrainStats:
    steps: int
    # examples per optimizer step (per-device batch x accumulation x processes) and the autocast precision
    # the steps ran in; None for a method without gradient steps
    effective_batch: int | None
    precision: str | None
    train_seconds: float
    tokens: int
    tokens_per_s: float
    # CPU time of the process over the same span: unlike wall time, it does not depend on how many seeds
    # shared the cores (harness/core/workers.py), so tokens per CPU-second compare across schedules
    cpu_seconds: float
    final_loss: float | None  # None: the method takes no gradient steps
    loss_curve: list[tuple[int, float]]
    memory: dict[str, Any]
    val_curve: list[tuple[int, float]]
    steps_to_target: int | None


def first_reaching(curve: list[tuple[int, float]], target: float | None) -> int | None:
    """First step of the validation curve at or above ``target`` (None: never, or no target)."""
    if target is None:
        return None
    return next((step for step, value in curve if value >= target), None)


def resolve_precision(choice: str, device: torch.device) -> str:
    """``auto``: bf16 on a GPU that supports it, fp32 elsewhere (CPU autocast is slower than fp32 on
    most CPUs and would change the committed CPU results); an explicit choice the device cannot do fails."""
    bf16_ok = device.type == "cuda" and torch.cuda.is_bf16_supported()
    if choice == "auto":
        return "bf16" if bf16_ok else "fp32"
    if choice == "fp16" and device.type != "cuda":
        raise HarnessError("loop.precision: fp16 autocast needs a CUDA device; use fp32 or bf16 on CPU")
    if choice == "bf16" and device.type == "cuda" and not bf16_ok:
        raise HarnessError("loop.precision: this GPU has no bf16; use fp16 or fp32")
    return choice


def code_digest() -> str:
    """Hash of the harness package's source: a checkpoint written by other code is not resumed."""
    digest = hashlib.sha256()
    for path in sorted(Path(__file__).resolve().parents[1].rglob("*.py")):  # harness/, this file in harness/engine/
        digest.update(path.read_bytes())
    return digest.hexdigest()


def keyed_checkpoint_dir(name: str, key: dict[str, Any]) -> Path:
    """Where training ``name`` (``<run>/<seed and lr>``) keeps its checkpoints, under a digest of ``key`` (all
    that decides its steps: settings, lr, loop, model, seed, training data) and of the code, so a rerun resumes
    only a run that would have produced the same result. Checkpoints under ``name`` with another digest can
    never be resumed and are removed."""
    digest = hashlib.sha256(json.dumps({**key, "code": code_digest()}, sort_keys=True, default=str).encode()).hexdigest()[:16]
    for stale in (CHECKPOINTS / name).glob("*"):
        if stale.name != digest:
            shutil.rmtree(stale, ignore_errors=True)
    return CHECKPOINTS / name / digest


def last_checkpoint(checkpoint_dir: Path | None) -> Path | None:
    """The newest complete checkpoint (the Trainer writes ``trainer_state.json`` last), or None."""
    if checkpoint_dir is None or not checkpoint_dir.is_dir():
        return None
    done = [d for d in checkpoint_dir.glob(f"{PREFIX_CHECKPOINT_DIR}-*") if (d / "trainer_state.json").is_file()]
    return max(done, key=lambda d: int(d.name.rsplit("-", 1)[1]), default=None)


def saving_now(args, state, control) -> Path | None:
    """The checkpoint folder the Trainer is about to write at this step (None: no checkpoint now, or
    another process writes it). Our own state goes in first, so a folder with the Trainer's state file
    is complete."""
    if not (control.should_save and args.should_save):
        return None
    folder = Path(args.output_dir) / f"{PREFIX_CHECKPOINT_DIR}-{state.global_step}"
    folder.mkdir(parents=True, exist_ok=True)
    return folder


class MethodHooks(TrainerCallback):
    """The method's hook between ``optimizer.step()`` and ``zero_grad()`` (AdaLoRA's rank allocation),
    with the 0-based index of the step just taken; the state the method keeps outside the model and the
    optimizer (AdaLoRA's importance averages) is saved with each checkpoint and restored on resume."""

    FILE = "method_state.pt"

    def __init__(self, method: Method, resume_from: Path | None):
        self.method, self.resume_from = method, resume_from
        self.saved: dict[str, Any] = {}  # the loop state taken out for the checkpoint being written

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.resume_from is not None and (self.resume_from / self.FILE).is_file():
            device = next(model.parameters()).device
            self.method.load_loop_state(model, torch.load(self.resume_from / self.FILE, map_location=device))

    def on_optimizer_step(self, args, state, control, model=None, **kwargs):
        self.method.before_zero_grad(model, state.global_step)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        folder = saving_now(args, state, control)
        self.saved = self.method.loop_state(model) if folder is not None else {}
        if self.saved:
            torch.save(self.saved, folder / self.FILE)

    def on_save(self, args, state, control, model=None, **kwargs):
        if self.saved:
            self.method.load_loop_state(model, self.saved)


class ShuffleState(TrainerCallback):
    """The shuffle's generator as it stood when the current epoch began, saved with each checkpoint and put
    back on resume: the resumed epoch then draws the order the uninterrupted run drew (the Trainer restores
    the global RNGs and skips the batches already trained, but cannot know our loader's generator)."""

    FILE = "shuffle_generator.pt"

    def __init__(self, loader: DataLoader, resume_from: Path | None):
        self.generator = loader.generator or getattr(loader.sampler, "generator", None)
        self.resume_from = resume_from
        self.epoch_state: torch.Tensor | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if self.generator is not None and self.resume_from is not None:
            self.generator.set_state(torch.load(self.resume_from / self.FILE))

    def on_epoch_begin(self, args, state, control, **kwargs):
        if self.generator is not None:
            self.epoch_state = self.generator.get_state()

    def on_step_end(self, args, state, control, **kwargs):
        folder = saving_now(args, state, control)
        if folder is not None and self.epoch_state is not None:
            torch.save(self.epoch_state, folder / self.FILE)


class Measurements(TrainerCallback):
    """What a run costs and how it learns: wall and CPU time, peak memory, tokens (the Trainer's
    non-padding count), the loss curve (the Trainer's logged window means, plus the last step) and the
    validation curve (``tracker(model)`` every ``track_every`` steps, its time not counted as training).

    The curves and the time so far live in the Trainer's ``log_history``, which each checkpoint saves, so a
    resumed run reports the whole run; its peak memory is that of the process that finished it."""

    trainer: Trainer  # set once the Trainer exists: validation points go out through its log()

    def __init__(self, device: torch.device, tracker: Callable[[nn.Module], float] | None, track_every: int, label: str | None):
        self.device = device
        self.tracker = tracker
        self.track_every = track_every if tracker is not None else 0
        self.label = label
        self.tracking_seconds = self.tracking_cpu_seconds = 0.0

    def on_train_begin(self, args, state, control, **kwargs):
        before = [h for h in state.log_history if "train_seconds" in h]  # a resumed run's time so far
        self.seconds_before = before[-1]["train_seconds"] if before else 0.0
        self.cpu_seconds_before = before[-1]["cpu_seconds"] if before else 0.0
        self.memory = PeakMemory(self.device).__enter__()
        self.start, self.cpu_start = time.perf_counter(), time.process_time()

    def elapsed(self) -> tuple[float, float]:
        """Training wall and CPU seconds of the whole run so far, tracking excluded."""
        return (self.seconds_before + time.perf_counter() - self.start - self.tracking_seconds,
                self.cpu_seconds_before + time.process_time() - self.cpu_start - self.tracking_cpu_seconds)

    def on_step_end(self, args, state, control, model=None, **kwargs):
        step, steps = state.global_step, state.max_steps
        if step == steps:
            control.should_log = True  # the last window, however long, closes the loss curve
        if self.track_every and (step % self.track_every == 0 or step == steps):
            t0, cpu0 = time.perf_counter(), time.process_time()
            # forked RNG: the tracker's DataLoader draws a seed from torch's global generator, which
            # would otherwise shift every later dropout mask (tracking must not change the run)
            with torch.random.fork_rng(devices=[self.device] if self.device.type == "cuda" else []):
                value = self.tracker(model)
            # to log_history and every tracker of loop.report_to; log() clears should_log, which may be set
            # for this step's loss window
            should_log = control.should_log
            self.trainer.log({"validation": value})
            control.should_log = should_log
            model.train()
            self.tracking_seconds += time.perf_counter() - t0
            self.tracking_cpu_seconds += time.process_time() - cpu0
        if control.should_save:
            seconds, cpu_seconds = self.elapsed()
            state.log_history.append({"step": step, "train_seconds": seconds, "cpu_seconds": cpu_seconds})
        if self.label and step % max(1, steps // 4) == 0 and step < steps:
            seconds = self.elapsed()[0]
            log.info("%s: step %d/%d, %.0f s, ~%.0f s left", self.label, step, steps, seconds, seconds / step * (steps - step))

    def on_train_end(self, args, state, control, **kwargs):
        if self.device.type == "cuda":
            torch.cuda.synchronize(self.device)
        self.seconds, self.cpu_seconds = self.elapsed()
        self.memory.__exit__(None, None, None)
        self.loss_curve = [(h["step"], h["loss"]) for h in state.log_history if "loss" in h]
        self.val_curve = [(h["step"], h["validation"]) for h in state.log_history if "validation" in h]


class MethodTrainer(Trainer):
    """The Trainer on our batches with the method's optimizer.

    Classification and LM losses here are per-batch means: with accumulation the Trainer divides each by
    the number of micro-batches (``loss_is_scaled_for_ga = False``), and the model is not handed
    ``num_items_in_batch`` (a sequence classifier would ignore it while the Trainer stopped dividing)."""

    loss_is_scaled_for_ga = False

    def __init__(self, *, loader: DataLoader, method: Method, cfg: Any, lr: float, weight_decay: float, **kwargs):
        self.loader, self.method, self.cfg, self.lr, self.weight_decay = loader, method, cfg, lr, weight_decay
        super().__init__(**kwargs)
        self.model_accepts_loss_kwargs = False
        self.remove_callback(PrinterCallback)  # the loss curve goes to the result files and the trackers, not stdout

    def get_train_dataloader(self) -> DataLoader:
        return self.accelerator.prepare(self.loader)

    def create_optimizer(self, model=None):
        if self.optimizer is None:
            self.optimizer = self.method.optimizer(self.model, self.cfg, lr=self.lr, weight_decay=self.weight_decay)
        return self.optimizer


class TrainerStepDVCLive(DVCLiveCallback):
    """transformers' DVCLive callback with its points at the Trainer's step (its own step counts log calls)."""

    def on_log(self, args, state, control, **kwargs):
        self.live.step = state.global_step
        super().on_log(args, state, control, **kwargs)


def tracker_dirs(report_to: list[str], log_name: str) -> list[Path]:
    """The folders the trackers of ``report_to`` write run ``log_name`` (``<stage>/<run>/<seed or lr>``) to."""
    return [root / log_name for tracker, root in (("tensorboard", TENSORBOARD_LOGS), ("dvclive", DVCLIVE_LOGS)) if tracker in report_to]


def tracker_callbacks(report_to: list[str], log_name: str) -> list[TrainerCallback]:
    """transformers' own TensorBoard and DVCLive callbacks, writing where the Trainer's ``report_to`` cannot
    place them: ``runs/<log_name>`` and ``dvclive/<log_name>`` (DVCLive's folder ``live/`` with a ``dvc.yaml``
    beside it, so ``dvc plots`` finds the curves, and no experiment of its own: the run is one already). W&B
    keeps its own folder and is the Trainer's ``report_to``. Only the process that writes outputs writes these."""
    if not is_main_process():
        return []
    callbacks: list[TrainerCallback] = []
    if "tensorboard" in report_to:
        from torch.utils.tensorboard import SummaryWriter
        from transformers.integrations import TensorBoardCallback

        callbacks.append(TensorBoardCallback(tb_writer=SummaryWriter(log_dir=str(TENSORBOARD_LOGS / log_name))))
    if "dvclive" in report_to:
        from dvclive import Live

        # its dvc.yaml beside the folder, not in it: DVCLive replaces its own entries only when their paths
        # name the folder (dvclive 3.48 appends duplicates otherwise)
        live = Live(dir=str(DVCLIVE_LOGS / log_name / "live"), dvcyaml=str(DVCLIVE_LOGS / log_name / "dvc.yaml"), save_dvc_exp=False)
        callbacks.append(TrainerStepDVCLive(live=live))
    return callbacks


def training_arguments(loop: LoopConfig, steps: int, device: torch.device, log_every: int, output_dir: str, checkpoints: bool,
                       tracked: bool) -> TrainingArguments:
    """The loop's settings as the Trainer's arguments (our loader, optimizer and callbacks do the rest)."""
    precision = resolve_precision(loop.precision, device)
    return TrainingArguments(
        output_dir=output_dir,
        report_to=["wandb"] if tracked and "wandb" in loop.report_to else "none",
        max_steps=steps,
        per_device_train_batch_size=loop.batch_size,
        gradient_accumulation_steps=loop.gradient_accumulation_steps,
        gradient_checkpointing=loop.gradient_checkpointing,
        gradient_checkpointing_kwargs={"use_reentrant": False} if loop.gradient_checkpointing else None,
        lr_scheduler_type=loop.scheduler,
        warmup_steps=int(loop.warmup_ratio * steps),
        max_grad_norm=loop.max_grad_norm,
        bf16=precision == "bf16",
        fp16=precision == "fp16",
        use_cpu=device.type == "cpu",
        logging_strategy="steps",
        logging_steps=log_every,
        # save_total_limit: the previous checkpoint goes once the next is complete
        **({"save_strategy": "steps", "save_steps": loop.checkpoint_every, "save_total_limit": 1} if checkpoints else {"save_strategy": "no"}),
        disable_tqdm=True,
        include_num_input_tokens_seen="non_padding",
        # our loader's own seeded shuffle, not accelerate's per-epoch reseeded one
        accelerator_config={"use_seedable_sampler": False},
        dataloader_pin_memory=False,
    )


def train(
    model: nn.Module,
    method: Method,
    cfg: Any,
    loader: DataLoader,
    loop: LoopConfig,
    steps: int,
    device: torch.device,
    log_every: int = 10,
    label: str | None = None,
    tracker: Callable[[nn.Module], float] | None = None,
    track_every: int = 0,
    checkpoint_dir: Path | None = None,
    log_name: str | None = None,
) -> TrainStats:
    """Run ``steps`` optimizer steps over ``loader``'s batches. ``tracker(model)`` (the validation metric) is
    called every ``track_every`` steps with the model in eval mode; its time is excluded from
    ``train_seconds``. With a ``label``, a progress line is logged at every quarter of the run.

    With a ``checkpoint_dir`` and ``loop.checkpoint_every``, a checkpoint is saved there every that many
    steps, a run finding one resumes from it (on CPU to the uninterrupted run's result), and a finished run
    removes the folder. With a ``log_name`` (``<stage>/<run>/<seed or lr>``), the trackers of ``loop.report_to``
    log the run under it (a run that does not resume starts its folders afresh)."""
    checkpoints = checkpoint_dir is not None and loop.checkpoint_every > 0
    resume_from = last_checkpoint(checkpoint_dir) if checkpoints else None
    measurements = Measurements(device, tracker, track_every, label)
    with contextlib.ExitStack() as stack:
        output = str(checkpoint_dir) if checkpoints else stack.enter_context(tempfile.TemporaryDirectory(prefix="trainer-"))
        if log_name is not None and resume_from is None and is_main_process():
            for folder in tracker_dirs(loop.report_to, log_name):
                shutil.rmtree(folder, ignore_errors=True)
        args = training_arguments(loop, steps, device, log_every, output, checkpoints, log_name is not None)
        precision = resolve_precision(loop.precision, device)
        if label:
            log.info("%s: %d steps, effective batch %d (batch x accumulation x processes), %s%s", label, steps, effective_batch(loop), precision,
                     f", resuming from {resume_from}" if resume_from else "")
        # The Trainer reseeds every RNG in its constructor; the run was seeded once, before its head and
        # adapter were initialised, and its dropout masks continue that stream (one seed fixes the run).
        with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
            trainer = MethodTrainer(
                loader=loader, method=method, cfg=cfg, lr=cfg.lr or loop.lr, weight_decay=loop.weight_decay, model=model, args=args,
                callbacks=[MethodHooks(method, resume_from), ShuffleState(loader, resume_from), measurements,
                           *(tracker_callbacks(loop.report_to, log_name) if log_name is not None else [])],
            )
        measurements.trainer = trainer
        trainer.train(resume_from_checkpoint=str(resume_from) if resume_from else None)
    if checkpoints and args.should_save:
        shutil.rmtree(checkpoint_dir, ignore_errors=True)
    curve = measurements.loss_curve
    if not math.isfinite(curve[-1][1]):
        raise HarnessError(f"training diverged: loss is {curve[-1][1]} at step {steps}; lower loop.lr or the run's lr")
    tokens = int(trainer.state.num_input_tokens_seen)
    return TrainStats(
        steps=steps,
        effective_batch=effective_batch(loop),
        precision=precision,
        train_seconds=measurements.seconds,
        tokens=tokens,
        tokens_per_s=tokens / measurements.seconds,
        cpu_seconds=measurements.cpu_seconds,
        final_loss=curve[-1][1],
        loss_curve=curve,
        memory=measurements.memory.as_dict(),
        val_curve=measurements.val_curve,
        steps_to_target=first_reaching(measurements.val_curve, loop.target),
    )


def fit_without_steps(model: nn.Module, method: Method, cfg: Any, dataset, tokenizer, device: torch.device) -> tuple[nn.Module, TrainStats]:
    """Methods without gradient steps (retrieval): ``method.fit`` over the training split, measured like training."""
    with PeakMemory(device) as mem:
        start, cpu_start = time.perf_counter(), time.process_time()
        model = method.fit(model, cfg, dataset, tokenizer, device)
        seconds, cpu_seconds = time.perf_counter() - start, time.process_time() - cpu_start
    tokens = sum(len(ids) for ids in dataset["input_ids"])
    return model, TrainStats(
        steps=0, effective_batch=None, precision=None, train_seconds=seconds, tokens=tokens, tokens_per_s=tokens / seconds, cpu_seconds=cpu_seconds, final_loss=None,
        loss_curve=[], memory=mem.as_dict(), val_curve=[], steps_to_target=None,
    )
