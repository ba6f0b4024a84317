"""The machine's practical fp32 ceiling, printed beside every benchmark figure: machines running this project
differ by up to ~2.8x (AVX2-only EPYC ~100 GFLOP/s vs Xeon ~250), so a time means little without it."""

from __future__ import annotations

import time

import torch


def gemm_peak_gflops(n: int = 2048, reps: int = 10) -> float:
    """fp32 GEMM throughput with torch's current thread count."""
    a, b = torch.randn(n, n), torch.randn(n, n)
    a @ b
    start = time.perf_counter()
    for _ in range(reps):
        a @ b
    return 2 * n**3 * reps / (time.perf_counter() - start) / 1e9
