"""What a block of work costs and where it runs: peak memory (CPU resident set, sampled; CUDA max allocated),
forward latency, tensor bytes, the device. (``harness/claims/measures.py`` is a different thing: what a claim reads.)"""

from __future__ import annotations

import threading

import psutil
import torch


class PeakMemory:
    """Highest process RSS seen while the block runs, sampled by a background thread every 20 ms
    (a training step holds its activations for far longer, so the peak is not missed).

    ``ru_maxrss`` would be simpler but it is the high-water mark of the whole process, so a second
    seed in the same process could never report less than the first. On CUDA the allocator's own
    peak counter is exact and is reported as well.
    """

    def __init__(self, device: torch.device, interval_s: float = 0.02):
        self.device = device
        self.interval_s = interval_s
        self._proc = psutil.Process()
        self._stop = threading.Event()
        self.rss_start = self.rss_peak = 0
        self.cuda_peak: int | None = None

    def _sample(self) -> None:
        while not self._stop.wait(self.interval_s):
            self.rss_peak = max(self.rss_peak, self._proc.memory_info().rss)

    def __enter__(self) -> PeakMemory:
        self.rss_start = self.rss_peak = self._proc.memory_info().rss
        if self.device.type == "cuda":
            torch.cuda.reset_peak_memory_stats(self.device)
        self._thread = threading.Thread(target=self._sample, daemon=True)
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()
        self.rss_peak = max(self.rss_peak, self._proc.memory_info().rss)
        if self.device.type == "cuda":
            self.cuda_peak = torch.cuda.max_memory_allocated(self.device)

    def as_dict(self) -> dict:
        return {
            "peak_rss_mb": self.rss_peak / 2**20,
            "peak_rss_delta_mb": (self.rss_peak - self.rss_start) / 2**20,
            "cuda_max_allocated_mb": None if self.cuda_peak is None else self.cuda_peak / 2**20,
        }


def pick_device(choice: str) -> torch.device:
    if choice == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    return torch.device(choice)


def tensor_bytes(model: torch.nn.Module) -> int:
    """Bytes the model's parameters and buffers occupy (4-bit weights count packed): the weight memory a
    method needs, free of allocator and process noise that RSS carries."""
    return sum(t.numel() * t.element_size() for t in list(model.parameters()) + list(model.buffers()))


@torch.no_grad()
def latency_ms(models: dict[str, torch.nn.Module], batch: dict[str, torch.Tensor], repeats: int) -> dict[str, float]:
    """Median forward time (ms) of each model on the same batch, measured in interleaved rounds so
    that machine noise (other processes, frequency changes) hits every model alike."""
    import statistics
    import time

    for model in models.values():
        model.eval()
        model(**batch)  # warm-up: first-call allocations and lazy initialisation
    times: dict[str, list[float]] = {name: [] for name in models}
    for _ in range(repeats):
        for name, model in models.items():
            if batch["input_ids"].is_cuda:
                torch.cuda.synchronize()
            start = time.perf_counter()
            model(**batch)
            if batch["input_ids"].is_cuda:
                torch.cuda.synchronize()
            times[name].append(1000 * (time.perf_counter() - start))
    return {name: statistics.median(t) for name, t in times.items()}
