"""One seed of a classification run, fitted: what the tune stage (at each grid point) and the train stage
(at the chosen learning rate) both run, so the two train exactly alike."""

from __future__ import annotations

import dataclasses
from pathlib import Path

from harness.core.config import Params, track_every
from harness.core.seeding import seed_everything
from harness.engine.inference import predict, score
from harness.engine.resources import pick_device
from harness.engine.trainer import fit_without_steps, keyed_checkpoint_dir, total_steps, train, train_loader
from harness.methods.base import Method


def validation_tracker(params: Params, splits, tokenizer, device):
    """The primary metric on the first ``loop.track_examples`` validation examples."""
    subset = splits["validation"].select(range(min(params.loop.track_examples, len(splits["validation"]))))
    metric = params.data.metrics[0]

    def track(model) -> float:
        preds, labels, _ = predict(model, subset, tokenizer, params.loop.eval_batch_size, device)
        return score(preds, labels, [metric])[metric]

    return track



def run_steps(params: Params, n_train: int, steps_factor: float = 1.0) -> int:
    """Optimizer steps of a run: the loop's schedule (``max_steps``, or ``epochs`` passes) times ``steps_factor`` (the
    length the tune stage chose on validation; 1: the schedule as configured)."""
    return max(1, round(total_steps(params.loop, n_train) * steps_factor))


def run_checkpoint_dir(params: Params, run: str, cfg, seed: int, train_split, track: bool, steps: int) -> Path:
    """Where this training of ``run`` keeps its checkpoints (harness/engine/trainer.py's ``keyed_checkpoint_dir``), keyed by
    the run's settings and lr, the loop, its steps, the model, the seed, the training split (datasets' content
    fingerprint) and whether it tracks validation."""
    key = {"run": run, "cfg": dataclasses.asdict(cfg), "loop": dataclasses.asdict(params.loop), "steps": steps, "model": dataclasses.asdict(params.model),
           "seed": seed, "track": track, "train": train_split._fingerprint}
    return keyed_checkpoint_dir(f"{run}/lr_{cfg.lr or params.loop.lr:g}-steps_{steps}-seed_{seed}", key)


def fit_seed(params: Params, run: str, method: Method, cfg, seed: int, splits, tokenizer, track: bool = True,
             log_name: str | None = None, steps_factor: float = 1.0) -> tuple[object, object]:
    """Train one seed of ``run`` (``method`` with settings ``cfg``, for :func:`run_steps` steps) on the training
    split; the trained model and its stats. ``log_name``: what the trackers of ``loop.report_to`` log it as (None:
    they do not)."""
    device = pick_device(params.loop.device)
    steps = run_steps(params, len(splits["train"]), steps_factor)
    seed_everything(seed)  # before the head and the adapter are initialised
    model = method.base_model(params.model, params.data.num_labels, cfg)
    model = method.prepare(model, cfg, total_steps=steps)
    if method.trains:
        loader = train_loader(splits["train"], tokenizer, params.loop.batch_size, seed, params.loop.group_by_length)
        every = track_every(params.loop, cfg) if track else 0
        tracker = validation_tracker(params, splits, tokenizer, device) if every else None
        checkpoints = run_checkpoint_dir(params, run, cfg, seed, splits["train"], track, steps) if params.loop.checkpoint_every else None
        stats = train(model, method, cfg, loader, params.loop, steps, device, label=f"{run} seed {seed} lr {cfg.lr or params.loop.lr:g}" + (f" steps {steps}" if steps_factor != 1 else ""), tracker=tracker,
                      track_every=every, checkpoint_dir=checkpoints, log_name=log_name)
    else:
        model, stats = fit_without_steps(model, method, cfg, splits["train"], tokenizer, device)
    return model, stats
