"""Stage ``train@<run>``: train one configured run for every seed, at the learning rate the tune stage chose
on the validation split (``results/tune/<run>.json``), and save its adapters.

Seeds run side by side in processes of their own (harness/core/workers.py); under ``accelerate launch`` every
process trains each seed on its share of the batches and rank 0 writes the outputs. Outputs ``models/<run>/seed_<s>``
(DVC cache), ``results/train/<run>.json`` (git: cost figures, method report such as AdaLoRA's rank
pattern, each seed's model digest, the work's key, provenance) and ``results/curves/<run>/seed_<s>/`` (its loss and
validation curves in DVCLive's format, the stage's DVC plots).

A rerun keeps every seed that the recorded result holds under this run's key and whose saved model is the one it
recorded (harness/engine/kept.py): a look of the seed plan trains only the seeds it adds.
"""

from __future__ import annotations

import dataclasses
import logging
import shutil
import sys
from pathlib import Path

from harness.core.config import Params, load_params, seeds_of
from harness.core.errors import HarnessError
from harness.core.io import output_dir, read_json, write_text
from harness.core.paths import curves_dir, model_dir, result_file, seed_subdir
from harness.core.ranks import is_main_process
from harness.core.workers import run_seeds
from harness.engine.fit_seed import fit_seed
from harness.engine.inference import predict, score
from harness.engine.kept import kept_from, kept_result, kept_seeds, model_digest, work_key
from harness.engine.resources import pick_device
from harness.stages.common import config_dict, data_hashes, load_prepared, run_method, train_figures, write_run_result

log = logging.getLogger("harness.train")


def tuned(run: str) -> tuple[float | None, float]:
    """The learning rate (None for a method without gradient steps) and the training length (``steps_factor``) the
    tune stage chose for ``run``."""
    path = result_file("tune", run)
    if not path.is_file():
        raise HarnessError(f"{path}: no tuning result for run {run}; run the tune stage first (dvc repro tune@{run})")
    tune = read_json(path)
    return tune["chosen_lr"], tune["steps_factor"] or 1.0


def write_curves(folder: Path, figures: dict) -> None:
    """One seed's loss and validation curves as DVCLive writes them (``plots/metrics/<name>.tsv``: step and
    value), for ``dvc plots``. Written through DVCLive's API from the finished run's record rather than by a
    callback during training, so that a run resumed from a checkpoint plots every step and a killed one
    leaves nothing; the live view during training is ``loop.report_to``'s (TensorBoard, DVCLive, W&B). Only
    ``log_metric``: ``Live.end()`` inside ``dvc exp run`` would ``git add`` the folder, and a ``metrics.json``
    here would be read as a plot."""
    from dvclive import Live

    live = Live(dir=str(folder), dvcyaml=None, save_dvc_exp=False, report=None)
    for name, curve in (("loss", figures["loss_curve"]), ("validation", figures["val_curve"])):
        for step, value in curve:
            live.step = step
            live.log_metric(name, value)
    if not figures["loss_curve"]:  # no gradient steps (retrieval): DVCLive's header alone, so the output exists in git
        write_text(Path(live.plots_dir) / "metrics" / "loss.tsv", "step\tloss\n")


def train_seed(params: Params, run: str, seed: int, splits, tokenizer, out_dir, lr: float | None = None,
               steps_factor: float = 1.0) -> tuple[dict, object]:
    """Train one seed (at ``lr`` if given, else the run's default; for the schedule's steps times ``steps_factor``),
    save its artifact to ``out_dir``; the figures (with the trained model's scores on the validation split) and the
    model."""
    method, cfg = run_method(params, run)
    if lr is not None:
        cfg = dataclasses.replace(cfg, lr=lr)
    model, stats = fit_seed(params, run, method, cfg, seed, splits, tokenizer, log_name=f"train/{run}/{seed_subdir(seed)}",
                            steps_factor=steps_factor)
    method.save(model, out_dir)
    device = pick_device(params.loop.device)
    figures = train_figures(model, method, cfg, stats, device)
    # the trained model on the whole validation split: what the competence check reads (never the test split)
    preds, labels, _ = predict(model, splits["validation"], tokenizer, params.loop.eval_batch_size, device)
    figures["final_validation"] = score(preds, labels, params.data.metrics)
    return figures, model


def run(params: Params, run: str) -> dict:
    method, cfg = run_method(params, run)
    splits, tokenizer = load_prepared()
    seeds = seeds_of(params, params.train[run])
    lr, steps_factor = tuned(run)
    key = work_key(params, run, lr=lr, steps_factor=steps_factor, hashes=data_hashes())
    previous = kept_result(result_file("train", run), key)
    kept = kept_seeds(previous, seeds, {seed: model_dir(run) / seed_subdir(seed) for seed in seeds})
    if kept:
        log.info("train@%s: seeds %s kept (trained under this key before)", run, ", ".join(map(str, kept)))

    with output_dir(model_dir(run)) as out, output_dir(curves_dir(run)) as curves:
        for seed, figures in kept.items():
            shutil.copytree(model_dir(run) / seed_subdir(seed), out / seed_subdir(seed))
            write_curves(curves / seed_subdir(seed), figures)

        def one_seed(seed: int) -> dict:
            figures, _ = train_seed(params, run, seed, splits, tokenizer, out / seed_subdir(seed), lr, steps_factor)
            figures["model_sha256"] = model_digest(out / seed_subdir(seed))  # what a rerun checks before keeping it
            write_curves(curves / seed_subdir(seed), figures)
            loss = "n/a" if figures["final_loss"] is None else f"{figures['final_loss']:.4f}"
            log.info("train@%s seed %d: loss %s, %.1f s, %.0f tokens/s", run, seed, loss, figures["train_seconds"], figures["tokens_per_s"])
            return figures

        new = [seed for seed in seeds if seed not in kept]
        done = run_seeds(one_seed, new, threads=params.loop.threads, device=pick_device(params.loop.device), log=log, label=f"train@{run}") if new else {}
    per_seed = {str(seed): kept[seed] if seed in kept else done[seed] for seed in seeds}
    if not is_main_process():  # a data-parallel launch: rank 0 writes
        return {}
    body = {
        "method": method.name,
        "config": config_dict(cfg),
        "lr": lr,  # chosen on the validation split by the tune stage (None: no gradient steps)
        "steps_factor": steps_factor,  # the training length the tune stage chose (1: the schedule as configured)
        "seeds": per_seed,
        "key": key,  # what a rerun keeps seeds under (harness/engine/kept.py)
        "kept_from": kept_from(previous, kept),  # seed -> the commit it was trained at, for each seed kept from before
    }
    return write_run_result("train", run, seeds, body)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness train <run>")
    run(load_params(), argv[0])
