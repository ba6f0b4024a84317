"""Trains LoRA on the prepared data of the working directory with dropout off, for the data-parallel test
(tests/test_distributed.py), which runs it under ``accelerate launch`` on 2 CPU processes and plainly on 1.

    python tests/ddp_worker.py <batch per process> <steps> <out.pt>
"""

import dataclasses
import sys

import torch

from harness.core.config import load_params
from harness.core.ranks import is_main_process
from harness.core.seeding import seed_everything
from harness.engine.trainer import train, train_loader
from harness.planted.benchmark import without_dropout
from harness.stages.common import load_prepared, run_method


def main(batch_size: int, steps: int, out: str) -> None:
    params = load_params()
    loop = dataclasses.replace(params.loop, batch_size=batch_size, max_steps=steps)
    splits, tokenizer = load_prepared()
    method, cfg = run_method(params, "lora")
    seed_everything(0)
    model = method.prepare(method.base_model(params.model, params.data.num_labels, cfg), cfg, total_steps=steps)
    without_dropout(model)  # dropout masks depend on the batch shape: the comparison needs them off
    # each process takes every world_size-th batch of the same sequence (accelerate's sharding): with the
    # same shuffle at the full batch, one process's batch k is the union of the processes' batches k
    stats = train(model, method, cfg, train_loader(splits["train"], tokenizer, batch_size, 0), loop, steps, torch.device("cpu"), log_every=1)
    if is_main_process():
        weights = {n: p.detach().clone() for n, p in model.named_parameters() if p.requires_grad}
        torch.save({"loss_curve": stats.loss_curve, "tokens": stats.tokens, "weights": weights}, out)


if __name__ == "__main__":
    main(int(sys.argv[1]), int(sys.argv[2]), sys.argv[3])
