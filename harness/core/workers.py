"""Seeds side by side on a CPU: every seed of a stage runs in a process of its own, forked from the stage
process once libraries and data are loaded.

Why: a seed of the default (MiniLM, ~500 tokens a batch) is made of small GEMMs that two threads run only
~1.5x faster than one. Measured on 2 cores (``benchmarks/seed_parallelism.py``, 3 seeds of LoRA): one after
the other on 2 threads 72.5 s; rounds of two side by side on 1 thread each 62.9 s (x1.15); all three at
once on 1 thread each 55.5 s (x1.31). A fresh process per seed also starts every seed from the same state,
so no seed pays the process's one-off allocations for the others.

The schedule follows ``loop.threads``: a positive count runs every seed at once, each on that many threads
(the default 1 gives the same floating-point summation order, hence the same numbers, on any machine);
0 runs the seeds one after the other, each on every core. Each seed records its thread count. Because
seeds share the cores, a seed's wall-clock tokens/s depends on how many ran beside it; tokens per CPU-second
(also recorded) does not. On CUDA, and under ``accelerate launch`` (where the processes share each seed's
batches), the seeds run one after the other in the stage process.

Forking is safe only from a process that has not yet run a torch kernel: GNU OpenMP, torch's CPU thread
pool, does not survive a fork once started (a child that asks it for two threads hangs). The CLI marks its
fresh stage process as such (:func:`mark_pristine`) and stages keep their own process free of kernels;
anywhere else (tests, notebooks) the seeds run one after the other in the calling process, on the same
thread counts, so both ways give the same numbers.
"""

from __future__ import annotations

import dataclasses
import logging
import multiprocessing
import os
import pickle
import time
import traceback
from collections.abc import Callable
from multiprocessing.connection import wait
from typing import TYPE_CHECKING, TypeVar

from harness.core.errors import HarnessError
from harness.core.ranks import world_size

if TYPE_CHECKING:
    import torch

T = TypeVar("T")
_pristine = False


def mark_pristine() -> None:
    """Declare that this process has run no torch kernel yet (the CLI does, first thing): seeds may fork."""
    global _pristine
    _pristine = True


@dataclasses.dataclass(frozen=True)
class Slot:
    """One seed's place in the schedule: its round and the threads it gets."""

    seed: int
    round: int
    threads: int


def available_cores() -> int:
    """Cores this process may run on (its CPU affinity, which ``taskset`` and container limits set)."""
    return len(os.sched_getaffinity(0))


def schedule(seeds: list[int], threads: int, cores: int) -> list[Slot]:
    """``threads`` > 0: every seed at once on that many threads; 0: one after the other on every core."""
    if threads:
        return [Slot(s, 0, threads) for s in seeds]
    return [Slot(s, i, cores) for i, s in enumerate(seeds)]


def _fmt(seconds: float) -> str:
    seconds = int(round(seconds))
    return f"{seconds // 60}m{seconds % 60:02d}s" if seconds >= 60 else f"{seconds}s"


class Progress:
    """Where a stage is and when it should end: one log line per finished seed, with elapsed time and an ETA.

    Seeds of one round run at the same time and finish at about the same time, so the first to finish means
    its round is nearly over: the ETA is the mean time of a round so far times the rounds not yet started.
    """

    def __init__(self, log: logging.Logger, label: str, slots: list[Slot]):
        self.log, self.label, self.slots = log, label, slots
        self.rounds = len({s.round for s in slots})
        self.finished: set[int] = set()  # rounds at least one of whose seeds has finished
        self.done = 0
        self.start = time.perf_counter()

    def step(self, slot: Slot, what: str) -> None:
        self.done += 1
        self.finished.add(slot.round)
        elapsed = time.perf_counter() - self.start
        left = self.rounds - len(self.finished)
        tail = f", ETA {_fmt(elapsed / len(self.finished) * left)}" if left else ""
        self.log.info("%s: %s (%d/%d, %s elapsed%s)", self.label, what, self.done, len(self.slots), _fmt(elapsed), tail)


def _child(work: Callable[[int], T], slot: Slot, conn) -> None:
    # plain pickle, not the connection's own: torch's reducer would hand tensors over as shared memory
    # that this process serves, and it exits right after sending
    import torch

    torch.set_num_threads(slot.threads)
    try:
        conn.send_bytes(pickle.dumps(("ok", work(slot.seed))))
    except HarnessError as err:
        conn.send_bytes(pickle.dumps(("error", str(err))))
    except BaseException:  # noqa: BLE001 - everything goes back to the stage process, which raises it
        conn.send_bytes(pickle.dumps(("crash", traceback.format_exc())))
    finally:
        conn.close()


def run_seeds(
    work: Callable[[int], T], seeds: list[int], *, threads: int, device: torch.device, log: logging.Logger, label: str
) -> dict[int, T]:
    """``work(seed)`` for every seed, in forked processes on a CPU (see the module docstring); returns the
    results by seed. ``work`` may be a closure (fork copies it); what it returns must pickle. A
    :class:`HarnessError` in a seed is re-raised as is; any other failure names the seed and its traceback.
    Under a data-parallel launch every process trains each seed together with the others, so the seeds run
    one after the other in this process."""
    if device.type != "cpu" or world_size() > 1:
        return _in_process(work, [Slot(s, i, threads) for i, s in enumerate(seeds)], log=log, label=label)
    return run_slots(work, schedule(seeds, threads, available_cores()), log=log, label=label)


def run_slots(work: Callable[[int], T], slots: list[Slot], *, log: logging.Logger, label: str) -> dict[int, T]:
    """``work(seed)`` for every slot of a CPU schedule (:func:`schedule` makes the stages' one)."""
    log.info("%s: %s", label, "; ".join(
        f"round {r}: " + ", ".join(f"seed {s.seed} on {s.threads} thread{'s' if s.threads > 1 else ''}" for s in slots if s.round == r)
        for r in sorted({s.round for s in slots})) + ("" if _pristine else " (one after the other in this process)"))
    if not _pristine:
        return _in_process(work, slots, log=log, label=label)
    return _forked(work, slots, Progress(log, label, slots), label)


def _in_process(work: Callable[[int], T], slots: list[Slot], *, log: logging.Logger, label: str) -> dict[int, T]:
    """One seed after the other in this process, each on its slot's threads."""
    import torch

    progress = Progress(log, label, [dataclasses.replace(slot, round=i) for i, slot in enumerate(slots)])
    before = torch.get_num_threads()
    results: dict[int, T] = {}
    try:
        for slot in slots:
            if slot.threads:
                torch.set_num_threads(slot.threads)
            started = time.perf_counter()
            results[slot.seed] = work(slot.seed)
            progress.step(slot, f"seed {slot.seed} done in {_fmt(time.perf_counter() - started)}")
    finally:
        torch.set_num_threads(before)
    return results


def _forked(work: Callable[[int], T], slots: list[Slot], progress: Progress, label: str) -> dict[int, T]:
    results: dict[int, T] = {}
    ctx = multiprocessing.get_context("fork")
    for r in sorted({s.round for s in slots}):
        running = {}
        try:
            for slot in (s for s in slots if s.round == r):
                receiver, sender = ctx.Pipe(duplex=False)
                proc = ctx.Process(target=_child, args=(work, slot, sender), name=f"{label} seed {slot.seed}")
                proc.start()
                sender.close()
                running[receiver] = (slot, proc, time.perf_counter())
            while running:
                for receiver in wait(list(running)):
                    slot, proc, started = running.pop(receiver)
                    try:
                        status, payload = pickle.loads(receiver.recv_bytes())
                    except EOFError:
                        proc.join()
                        raise RuntimeError(f"{label}: seed {slot.seed}: worker died (exit code {proc.exitcode})") from None
                    proc.join()
                    if status == "error":
                        raise HarnessError(payload)
                    if status == "crash":
                        raise RuntimeError(f"{label}: seed {slot.seed} failed:\n{payload}")
                    results[slot.seed] = payload
                    progress.step(slot, f"seed {slot.seed} done in {_fmt(time.perf_counter() - started)}")
        finally:
            for slot, proc, _ in running.values():
                proc.kill()
                proc.join()
    return {slot.seed: results[slot.seed] for slot in slots}
