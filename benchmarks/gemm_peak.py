"""The machine's practical GEMM ceiling, printed beside every benchmark figure: machines running this project
differ by up to ~2.8x (AVX2-only EPYC ~100 GFLOP/s fp32 vs Xeon ~250), so a time means little without it; on a
GPU, the bf16 ceiling that model FLOPs utilisation (MFU) is measured against."""

from __future__ import annotations

import time

import torch
from torch.utils.flop_counter import FlopCounterMode


def gemm_peak_gflops(n: int = 2048, reps: int = 10, device: str = "cpu", dtype: torch.dtype = torch.float32) -> float:
    """GEMM throughput of ``dtype`` on ``device`` (on a CPU with torch's current thread count): the fastest of
    ``reps`` timed products, so a moment when something else held the cores lowers no ceiling (a mean would, and a
    utilisation measured against it could pass 100%)."""
    a, b = torch.randn(n, n, device=device, dtype=dtype), torch.randn(n, n, device=device, dtype=dtype)
    a @ b
    best = float("inf")
    for _ in range(reps):
        if device != "cpu":
            torch.cuda.synchronize(device)
        start = time.perf_counter()
        a @ b
        if device != "cpu":
            torch.cuda.synchronize(device)
        best = min(best, time.perf_counter() - start)
    return 2 * n**3 / best / 1e9


def step_flops(model, batch: dict) -> int:
    """FLOPs of one forward and backward pass of ``model`` on ``batch`` (keyword inputs with labels), as run: the
    numerator of MFU. The gradients it leaves are cleared."""
    with FlopCounterMode(display=False) as counter:
        model(**batch).loss.backward()
    model.zero_grad(set_to_none=True)
    return counter.get_total_flops()
