"""Stage ``tune@<run>``: the run's learning rate, chosen on the validation split with the budget every run gets.

Each trained run tries its default learning rate (its ``lr``, else ``loop.lr``: the method's published or
documented value) times each of ``tuning.factors``, for the full training schedule at seed ``tuning.seed``,
and keeps the one with the best primary metric on the validation split (ties: the factor nearest 1, then the
smaller). The train stage reads the choice. The same factors, steps and seed for every run is what makes the
comparisons between methods fair; the test split, where results are reported, is never loaded here.

Why tune at all: the published learning rates were set for runs of thousands of steps on 100M-parameter
models; at 200 steps on MiniLM they are a floor. AdaLoRA shows it most: its singular values start at zero
and under Adam move about ``lr`` per step, while the orthogonality penalty dominates its first steps, so at a
published 8e-4 a short run leaves the update near zero.

Where the best point sits on an edge of the grid, the grid grows that way on validation (harness/engine/grid_search.py:
``search``, ``tuning.extend_*``) until the optimum is interior or the cap is reached (``grid_edge`` then names the edge).
Training length is a second axis under the same rule (``tuning.steps_factors``, ``tuning.steps_extend_*``): the lr
grid is searched at each length and the best (length, lr) pair is kept (``tuning.length_search: joint``), or the lr
grid is searched at the schedule's length and the lengths are then tried at its chosen lr (``after_lr``: a grid
point per length instead of a grid); either way a best at the longest or shortest length adds lengths that way until
it is interior or the cap is reached. With one length (the default) nothing changes.

Writes ``results/tune/<run>.json``: the grid, each point's validation score and final loss, the choice, the edge
at the cap if any, the chosen length (``steps_factor``, ``steps``) and, with several, each length's search
(``lengths``), the work's key, provenance. A rerun whose key is the one recorded (the run's seeds changed, nothing
it reads: harness/engine/kept.py) keeps the result as it is and trains nothing.
A run without gradient steps (retrieval) records that it has nothing to tune; with a single factor (paper profiles:
the paper's own lr) there is nothing to choose and nothing is trained here.
"""

from __future__ import annotations

import dataclasses
import logging
import sys
from collections.abc import Callable

from harness.core.config import Params, load_params
from harness.core.errors import HarnessError
from harness.core.paths import result_file
from harness.core.ranks import is_main_process
from harness.core.workers import run_seeds
from harness.engine.fit_seed import fit_seed, run_steps
from harness.engine.grid_search import Axis, choose, search
from harness.engine.inference import predict, score
from harness.engine.kept import kept_result, work_key
from harness.engine.resources import pick_device
from harness.stages.common import data_hashes, load_prepared, run_method, write_run_result

log = logging.getLogger("harness.tune")
SPLITS_READ = ("train", "validation")  # never the test split


def default_lr(params: Params, run: str) -> float:
    """The lr the grid scales: the run's own, else ``loop.lr`` (the method's published or documented value)."""
    return params.train[run].lr or params.loop.lr


def run(params: Params, run: str) -> dict:
    method, cfg = run_method(params, run)
    hashes = data_hashes(SPLITS_READ)
    key = work_key(params, run, tuning=dataclasses.asdict(params.tuning), hashes=hashes)
    kept = kept_result(result_file("tune", run), key)
    if kept is not None:
        log.info("tune@%s: kept (what it is computed from is unchanged: harness/engine/kept.py)", run)
        return kept
    splits, tokenizer = load_prepared(SPLITS_READ)
    metric = params.data.metrics[0]
    device = pick_device(params.loop.device)
    default = default_lr(params, run)

    tuning = params.tuning
    several_lengths = len(tuning.steps_factors) > 1

    def one_point(factor: float, steps_factor: float) -> dict:
        lr = default * factor
        at = f"lr {lr:g}" + (f" steps {run_steps(params, len(splits['train']), steps_factor)}" if several_lengths else "")
        try:
            model, stats = fit_seed(params, run, method, dataclasses.replace(cfg, lr=lr), tuning.seed, splits, tokenizer, track=False,
                                    log_name=f"tune/{run}/{at.replace(' ', '_')}", steps_factor=steps_factor)
        except HarnessError as err:  # a diverged point is a result of the grid, not a failure of the stage
            if "diverged" not in str(err):
                raise
            log.info("tune@%s %s: %s", run, at, err)
            return {"lr": lr, "factor": factor, "validation": None, "final_loss": None, "diverged": str(err)}
        preds, labels, _ = predict(model, splits["validation"], tokenizer, params.loop.eval_batch_size, device)
        value = score(preds, labels, [metric])[metric]
        log.info("tune@%s %s: validation %s %.2f", run, at, metric, value)
        return {"lr": lr, "factor": factor, "validation": value, "final_loss": stats.final_loss}

    def lr_search(steps_factor: float) -> tuple[list[dict], str | None]:
        """The lr grid at one training length, grown at an edge (grid_search.search)."""
        def score_factors(factors: list[float]) -> list[dict]:
            # the workers' "seeds" here are grid points, each trained at tuning.seed
            done = run_seeds(lambda i: one_point(factors[i], steps_factor), list(range(len(factors))), threads=params.loop.threads, device=device,
                             log=log, label=f"tune@{run} (grid points)")
            return [done[i] for i in range(len(factors))]

        return search(score_factors(list(tuning.factors)), Axis.learning_rate(tuning), score_factors)

    def score_lengths(steps_factors: list[float]) -> list[dict]:
        """``joint``: the lr grid searched at each length, each length's best kept."""
        lengths = []
        for steps_factor in steps_factors:
            points, edge = lr_search(steps_factor)
            best = points[choose(points)]
            lengths.append({"factor": steps_factor, "steps": run_steps(params, len(splits["train"]), steps_factor), "validation": best["validation"],
                            "lr": best["lr"], "grid_edge": edge, "grid": points})
        return lengths

    def lengths_at(best: dict, grid: list[dict]) -> Callable[[list[float]], list[dict]]:
        """``after_lr``: each length trained at the lr chosen at the schedule's length (``best``, a point of ``grid``)."""
        def score_at(steps_factors: list[float]) -> list[dict]:
            new = [f for f in steps_factors if f != 1.0]
            done = run_seeds(lambda i: one_point(best["factor"], new[i]), list(range(len(new))), threads=params.loop.threads, device=device,
                             log=log, label=f"tune@{run} (lengths)")
            points = {1.0: best, **{f: done[i] for i, f in enumerate(new)}}
            return [{"factor": f, "steps": run_steps(params, len(splits["train"]), f), "validation": points[f]["validation"], "lr": best["lr"],
                     "grid_edge": None, "grid": grid if f == 1.0 else [points[f]]} for f in steps_factors]
        return score_at

    edge, steps_factor, lengths = None, 1.0, None
    if not method.trains:
        points, chosen = [], None
    elif len(tuning.factors) == 1 and not several_lengths:  # nothing to choose (a paper profile runs the paper's own lr): train nothing here
        points, chosen = [{"lr": default, "factor": 1.0, "validation": None, "final_loss": None, "not_trained": "the only grid point"}], default
    elif not several_lengths:
        points, edge = lr_search(1.0)
        chosen = points[choose(points)]["lr"]
    else:
        if tuning.length_search == "joint":
            score_axis = score_lengths
        else:  # after_lr: the lr grid at the schedule's length, then the lengths at its chosen lr
            grid, grid_edge = lr_search(1.0) if len(tuning.factors) > 1 else ([one_point(1.0, 1.0)], None)
            score_axis = lengths_at({**grid[choose(grid)], "grid_edge": grid_edge}, grid)
        lengths, length_edge = search(score_axis(list(tuning.steps_factors)), Axis.length(tuning), score_axis)
        best = lengths[choose(lengths)]
        chosen, steps_factor = best["lr"], best["factor"]
        points, lr_edge = (best["grid"], best["grid_edge"]) if tuning.length_search == "joint" else (grid, grid_edge)
        edge = "; ".join(e for e in (lr_edge, length_edge and f"steps {length_edge}") if e) or None
    body = {
        "method": method.name,
        "metric": metric,
        "split": "validation",
        "seed": params.tuning.seed,
        "default_lr": default if method.trains else None,
        "grid": points,
        "chosen_lr": chosen,
        "grid_edge": edge,  # "top"/"bottom": the best still on that edge after extend_max more points (the cap); "steps top"...: the length's
        "steps_factor": steps_factor if method.trains else None,  # the chosen training length: the schedule's steps times this
        "steps": run_steps(params, len(splits["train"]), steps_factor) if method.trains else None,
        "lengths": lengths,  # several tuning.steps_factors: each length's best (joint: its lr search and edge; after_lr: its point at the chosen lr)
        "length_search": tuning.length_search if lengths else None,
        "note": None if method.trains else "no gradient steps: nothing to tune",
        "key": key,  # what a rerun keeps this result under (harness/engine/kept.py)
    }
    if not is_main_process():  # a data-parallel launch: rank 0 writes
        return {"run": run, **body}
    return write_run_result("tune", run, [tuning.seed], body, hashes)


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness tune <run>")
    run(load_params(), argv[0])
