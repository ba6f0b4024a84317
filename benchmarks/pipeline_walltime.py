"""Wall time of the whole pipeline from scratch on this machine (the issue's 15-minute budget).

    python benchmarks/pipeline_walltime.py

Runs ``dvc repro --force`` in the project (every stage reruns, as on a fresh clone) and prints the
total and per-stage wall time. Results are rewritten exactly as ``dvc repro`` would write them.
"""

from __future__ import annotations

import re
import subprocess
import sys
import time


def main() -> None:
    start = time.perf_counter()
    stages: list[tuple[str, float]] = []
    proc = subprocess.Popen(["dvc", "repro", "--force"], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    last = start
    current = None
    for line in proc.stdout:
        m = re.match(r"Running stage '([^']+)'", line)
        if m:
            now = time.perf_counter()
            if current:
                stages.append((current, now - last))
            current, last = m.group(1), now
    proc.wait()
    end = time.perf_counter()
    if current:
        stages.append((current, end - last))
    for name, seconds in stages:
        print(f"{name:24s} {seconds:7.1f} s")
    print(f"dvc repro --force total: {end - start:.1f} s ({(end - start) / 60:.1f} min), exit {proc.returncode}")
    sys.exit(proc.returncode)


if __name__ == "__main__":
    main()
