"""Calibration of the planted-rank benchmark: one arm at one lr, seed 0, gap closed on the validation inputs.

    PYTHONPATH=. python benchmarks/planted_calibration.py THREADS STEPS task:arm:lr [task:arm:lr ...]
    e.g. ... 2 150 high:oracle:5e-3 high:negative:5e-3 high:uniform:5e-3 high:adalora:8e-3

Run from the project root after `dvc repro prepare` (it reads data/prepared and params.yaml). It checks a design
change of harness/planted/benchmark.py (do the controls pass? how far apart are the arms?) in minutes, before the
planted stages run; its figures are calibration, never results (the lrs are not the tuned ones).
"""
import dataclasses
import logging
import sys
import time

import torch

from harness.core.config import load_params
from harness.planted import benchmark as rb
from harness.stages import planted as ps

logging.basicConfig(level=logging.INFO, format="%(asctime)s %(message)s", datefmt="%H:%M:%S")
torch.set_num_threads(int(sys.argv[1]) if len(sys.argv) > 1 else 2)
params = load_params()
steps = int(sys.argv[2]) if len(sys.argv) > 2 else params.planted.steps
params = dataclasses.replace(params, planted=dataclasses.replace(params.planted, steps=steps))
splits, tok = ps.load_prepared(("train", "validation"))
plan = [a.split(":") for a in sys.argv[3:]]  # task:arm:lr
benches = {}
for task, arm, lr in plan:
    if task not in benches:
        t0 = time.time(); benches[task] = ps.build(params, task, splits, tok, scored="validation")
        print(f"{task}: build {time.time()-t0:.1f}s base_error {benches[task].base_error:.4g} scale {benches[task].scale:.4g}", flush=True)
    b = benches[task]
    t0 = time.time()
    model, method, settings, stats = ps.train_arm(b, arm, float(lr), 0)
    gap = ps.gap_of(b, model)
    learned = {n.removeprefix(rb.STUDENT): d for n, d in ps.adapter_deltas(model).items()}
    rec = rb.recovery(learned, b.deltas, b.planted, b.inputs_seen) if b.deltas else None
    extra = ""
    if arm == "adalora":
        ranks = {n.removeprefix(rb.STUDENT): r for n, r in method.report(model, settings)["rank_pattern"].items()}
        extra = f" share {rb.share_on(ranks, b.planted):.2f} ranks {[r for r in ranks.values()]}"
    print(f"{task} {arm} lr {lr}: gap {gap if gap is None else round(gap,1)} recovery {rec if rec is None else round(rec,2)} loss {stats.final_loss:.3f} {time.time()-t0:.0f}s{extra}", flush=True)
