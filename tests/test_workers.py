"""Seeds side by side (harness/core/workers.py): the schedule, a process per seed, failures that name their seed.
The real train stage's forked seeds against the same seeds in one process: tests/test_preload.py."""

import logging
import subprocess
import sys

import pytest
import torch

from harness.core.errors import HarnessError
from harness.core.workers import Progress, Slot, run_seeds, schedule

LOG = logging.getLogger("test")
CPU = torch.device("cpu")


def test_schedule_runs_seeds_at_once_on_fixed_threads_or_one_after_the_other_on_all_cores():
    assert schedule([0, 1, 2], threads=1, cores=2) == [Slot(0, 0, 1), Slot(1, 0, 1), Slot(2, 0, 1)]
    assert schedule([5, 6], threads=3, cores=2) == [Slot(5, 0, 3), Slot(6, 0, 3)]
    assert schedule([0, 1, 2], threads=0, cores=2) == [Slot(0, 0, 2), Slot(1, 1, 2), Slot(2, 2, 2)]


def test_eta_counts_rounds_not_seeds(monkeypatch, caplog):
    """Seeds of a round finish together: once one has, only the rounds not yet started are left."""
    clock = iter([0.0, 60.0, 61.0, 62.0, 0.0, 60.0, 120.0])
    monkeypatch.setattr("harness.core.workers.time.perf_counter", lambda: next(clock))
    caplog.set_level(logging.INFO, logger="test")
    together = Progress(LOG, "t", schedule([0, 1, 2], threads=1, cores=2))
    for slot in together.slots:
        together.step(slot, f"seed {slot.seed} done")
    one_by_one = Progress(LOG, "t", schedule([0, 1, 2], threads=0, cores=2))
    for slot in one_by_one.slots[:2]:
        one_by_one.step(slot, f"seed {slot.seed} done")
    lines = [r.getMessage() for r in caplog.records]
    assert lines[0] == "t: seed 0 done (1/3, 1m00s elapsed)"  # no ETA: its round-mates are finishing too
    assert lines[3] == "t: seed 0 done (1/3, 1m00s elapsed, ETA 2m00s)"  # two more rounds of a minute
    assert lines[4] == "t: seed 1 done (2/3, 2m00s elapsed, ETA 1m00s)"


def test_in_process_runs_each_seed_on_its_scheduled_threads():
    seen = run_seeds(lambda seed: torch.get_num_threads(), [0, 1, 2], threads=1, device=CPU, log=LOG, label="t")
    assert seen == {0: 1, 1: 1, 2: 1}


def test_a_failing_seed_names_itself():
    def work(seed):
        if seed == 1:
            raise HarnessError("seed one is bad")
        return seed

    with pytest.raises(HarnessError, match="seed one is bad"):
        run_seeds(work, [0, 1], threads=1, device=CPU, log=LOG, label="t")


FORKED = """
import sys, torch
from harness.core.errors import HarnessError
from harness.core.workers import mark_pristine, run_seeds
import logging
mark_pristine()
log = logging.getLogger("t")
def work(seed):
    if seed == 9:
        raise HarnessError("nine is refused")
    if seed == 8:
        raise ZeroDivisionError("boom")
    torch.manual_seed(seed)
    a = torch.randn(256, 256)
    return [torch.get_num_threads(), float((a @ a).sum()), __import__("os").getpid()]
out = run_seeds(work, [0, 1, 2], threads=1, device=torch.device("cpu"), log=log, label="t")
print(repr(out))
for bad in (9, 8):
    try:
        run_seeds(work, [0, bad], threads=1, device=torch.device("cpu"), log=log, label="t")
    except Exception as err:
        print(type(err).__name__, str(err).splitlines()[0])
"""


def test_forked_seeds_run_in_their_own_processes_and_report_failures():
    proc = subprocess.run([sys.executable, "-c", FORKED], capture_output=True, text=True, timeout=300)
    assert proc.returncode == 0, proc.stderr
    lines = proc.stdout.splitlines()
    out = eval(lines[0])  # noqa: S307 - our own repr of a dict of lists
    assert len({pid for _, _, pid in out.values()}) == 3  # a fresh process per seed
    for seed, (threads, total, _) in out.items():
        torch.manual_seed(seed)
        a = torch.randn(256, 256)
        assert total == pytest.approx(float((a @ a).sum()), rel=1e-5)
    assert lines[1] == "HarnessError nine is refused"
    assert lines[2].startswith("RuntimeError t: seed 8 failed:")
