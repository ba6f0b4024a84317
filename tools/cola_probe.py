"""A validation-only probe behind docs/judging.md's CoLA paragraph (never the test split): one seed of a run of the
CoLA profile, trained far past the profile's 4x length cap, with validation Matthews every 400 steps on the whole
validation split. Not a stage and not a claim: the evidence for why the suite claims stay invalid on this machine.
Run inside the profile's checkout (``harness run-profile glue-cola-minilm prepare`` lays it out, with its prepared
data), e.g. ``cd .profiles/glue-cola-minilm && OMP_WAIT_POLICY=PASSIVE python ../../tools/cola_probe.py full 6e-05 16``;
it prints one JSON line and writes ``cola_probe_<run>_<lr>_<factor>.json`` in the current folder.
usage: python tools/cola_probe.py <run> <lr> <steps_factor>"""
import dataclasses
import json
import sys
import time

import torch

from harness.core.config import load_params
from harness.engine.fit_seed import fit_seed
from harness.engine.inference import predict, score
from harness.engine.resources import pick_device
from harness.stages.common import load_prepared, run_method

torch.set_num_threads(1)  # three probes side by side on the two cores, as the profile's workers run
run, lr, factor = sys.argv[1], float(sys.argv[2]), float(sys.argv[3])
params = load_params()
params = dataclasses.replace(params, loop=dataclasses.replace(params.loop, track_every=400, track_examples=1000))
splits, tok = load_prepared(("train", "validation"))
method, cfg = run_method(params, run)
t = time.time()
model, stats = fit_seed(params, run, method, dataclasses.replace(cfg, lr=lr), 0, splits, tok, track=True, steps_factor=factor)
preds, labels, _ = predict(model, splits["validation"], tok, params.loop.eval_batch_size, pick_device(params.loop.device))
final = score(preds, labels, ["matthews", "accuracy"])
out = {"run": run, "lr": lr, "steps": stats.steps, "val_curve": stats.val_curve, "final": final, "seconds": time.time() - t, "final_loss": stats.final_loss}
print(json.dumps(out))
with open(f"cola_probe_{run}_{lr:g}_{factor:g}.json", "w") as f:
    f.write(json.dumps(out, indent=1))
