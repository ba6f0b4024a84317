"""How a stage's seeds should share the cores: one after the other on every core, side by side on one
thread each in rounds of as many as there are cores, or all at once on one thread each (harness/core/workers.py's
default schedule).

    python benchmarks/seed_parallelism.py [--run lora] [--steps 60] [--seeds 0 1 2] [--repeats 2]

Trains the run's seeds for ``--steps`` steps on the prepared data (run ``dvc repro prepare`` first) with the
real stage code, in forked processes as the stages do, each way in turn (repeated, alternating, so drift on
a noisy machine hits every way), and prints each way's median wall time and its speed-up over the first.
"""

from __future__ import annotations

import argparse
import dataclasses
import logging
import statistics
import tempfile
import time
from pathlib import Path

import torch

from harness.core.command_table import configure_logging
from harness.core.config import load_params
from harness.core.workers import Slot, available_cores, mark_pristine, run_slots, schedule
from harness.stages.common import load_prepared
from harness.stages.train import train_seed


def main() -> None:
    configure_logging()
    mark_pristine()  # this process runs no kernel itself: every seed runs in a fork
    ap = argparse.ArgumentParser()
    ap.add_argument("--run", default="lora")
    ap.add_argument("--steps", type=int, default=60)
    ap.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    ap.add_argument("--repeats", type=int, default=2)
    args = ap.parse_args()
    params = load_params()
    loop = dataclasses.replace(params.loop, max_steps=args.steps, epochs=0.0, track_every=0, target=None)
    params = dataclasses.replace(params, loop=loop)
    splits, tokenizer = load_prepared()
    cores = available_cores()
    log = logging.getLogger("bench")
    log.setLevel(logging.WARNING)
    ways = {
        f"one after the other, {cores} threads": schedule(args.seeds, 0, cores),
        f"rounds of {cores} side by side, 1 thread": [Slot(s, i // cores, 1) for i, s in enumerate(args.seeds)],
        "all at once, 1 thread (threads: 1)": schedule(args.seeds, 1, cores),
    }
    wall: dict[str, list[float]] = {name: [] for name in ways}
    with tempfile.TemporaryDirectory() as tmp:
        def work(seed: int) -> float:
            return train_seed(params, args.run, seed, splits, tokenizer, Path(tmp) / f"seed_{seed}")[0]["tokens_per_s"]

        for _ in range(args.repeats):
            for name, slots in ways.items():
                start = time.perf_counter()
                run_slots(work, slots, log=log, label="bench")
                wall[name].append(time.perf_counter() - start)
    print(f"{args.run}: {len(args.seeds)} seeds x {args.steps} steps, {cores} cores, torch {torch.__version__}")
    first = statistics.median(next(iter(wall.values())))
    for name, times in wall.items():
        median = statistics.median(times)
        print(f"  {name:40s} median {median:6.1f} s  x{first / median:.2f}  ({', '.join(f'{t:.1f}' for t in times)})")


if __name__ == "__main__":
    main()
