"""Wall time of the whole pipeline from scratch on this machine, per stage, beside the machine's GEMM peak.

    python benchmarks/pipeline_walltime.py [--out times.json] [--compare before.json] [--no-preload]

Runs ``harness preload -- dvc repro --force`` in the project (every stage reruns, as on a fresh clone; what
``make repro`` runs) and prints the total and per-stage wall time. Results are rewritten exactly as ``dvc repro`` would write them. ``--out`` saves
the table; ``--compare`` prints it beside an earlier one (per stage and per kind of stage: train@*, ...).
Machines differ by up to ~2.8x on this pipeline: compare tables from one machine, and read any figure
with its GEMM peak (printed first).
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import time
from collections import defaultdict
from pathlib import Path

import torch
from gemm_peak import gemm_peak_gflops  # benchmarks/gemm_peak.py (scripts run from benchmarks/)


def repro(preload: bool) -> tuple[dict[str, float], float, int]:
    start = time.perf_counter()
    stages: dict[str, float] = {}
    cmd = ["harness", "preload", "--", "dvc", "repro", "--force"] if preload else ["dvc", "repro", "--force"]
    proc = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last, current = start, None
    for line in proc.stdout:
        sys.stdout.write(line)
        m = re.match(r"Running stage '([^']+)'", line)
        if m:
            now = time.perf_counter()
            if current:
                stages[current] = now - last
            current, last = m.group(1), now
    proc.wait()
    end = time.perf_counter()
    if current:
        stages[current] = end - last
    return stages, end - start, proc.returncode


def kinds(stages: dict[str, float]) -> dict[str, tuple[int, float]]:
    out: dict[str, list[float]] = defaultdict(list)
    for name, seconds in stages.items():
        out[name.split("@")[0]].append(seconds)
    return {k: (len(v), sum(v)) for k, v in out.items()}


def print_table(now: dict, before: dict | None) -> None:
    if before is None:
        for name, seconds in now["stages"].items():
            print(f"{name:28s} {seconds:8.1f} s")
        print(f"total {now['total_s'] / 60:.1f} min (GEMM peak {now['gemm_gflops']:.0f} GFLOP/s)")
        return
    print(f"{'stage':28s} {'before':>9s} {'after':>9s} {'ratio':>7s}")
    for name in dict.fromkeys([*before["stages"], *now["stages"]]):
        b, a = before["stages"].get(name), now["stages"].get(name)
        ratio = f"{b / a:6.2f}x" if a and b else "   n/a"
        print(f"{name:28s} {b if b is not None else float('nan'):8.1f}s {a if a is not None else float('nan'):8.1f}s {ratio}")
    print()
    kb, ka = kinds(before["stages"]), kinds(now["stages"])
    print(f"{'kind of stage':28s} {'n':>3s} {'before':>9s} {'after':>9s}")
    for kind in dict.fromkeys([*kb, *ka]):
        nb, sb = kb.get(kind, (0, 0.0))
        na, sa = ka.get(kind, (0, 0.0))
        print(f"{kind:28s} {max(nb, na):3d} {sb:8.1f}s {sa:8.1f}s")
    print(f"{'total':28s}     {before['total_s']:8.1f}s {now['total_s']:8.1f}s  "
          f"({before['total_s'] / 60:.1f} -> {now['total_s'] / 60:.1f} min; GEMM peak {before['gemm_gflops']:.0f} / {now['gemm_gflops']:.0f} GFLOP/s)")


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--out", type=Path)
    ap.add_argument("--compare", type=Path)
    ap.add_argument("--no-preload", action="store_true", help="plain `dvc repro --force`: every stage imports its libraries")
    args = ap.parse_args()
    peak = gemm_peak_gflops()
    print(f"fp32 GEMM peak: {peak:.0f} GFLOP/s on {torch.get_num_threads()} threads")
    stages, total, code = repro(preload=not args.no_preload)
    now = {"stages": stages, "total_s": total, "gemm_gflops": peak, "exit_code": code, "preload": not args.no_preload}
    if args.out:
        args.out.write_text(json.dumps(now, indent=2) + "\n")
    print_table(now, json.loads(args.compare.read_text()) if args.compare else None)
    sys.exit(code)


if __name__ == "__main__":
    main()
