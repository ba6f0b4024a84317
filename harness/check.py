"""``harness check``: fail when a claim's fresh verdict is worse than the one committed as expected.

The expected verdicts (``experiments/expected_verdicts.yaml``) are data reviewed in git; the fresh
ones come from ``results/status.json`` (written by ``tabulate``). Claims marked ``gate: false`` (figures
that vary from run to run, such as measured memory) are reported in the table but not held here. A verdict is worse when it ranks
lower in reproduced > inconclusive > not reproduced > not run; a claim missing from the fresh
results counts as a regression. Improvements are reported, not failed, so they can be committed.
"""

from __future__ import annotations

import sys
from pathlib import Path

import yaml

from harness.claims.judges import ORDER
from harness.errors import HarnessError
from harness.io import read_json

EXPECTED = Path("experiments/expected_verdicts.yaml")
STATUS = Path("results/status.json")


def compare(expected: dict[str, str], fresh: dict[str, str]) -> tuple[list[str], list[str]]:
    worse, better = [], []
    for cid, want in sorted(expected.items()):
        if want not in ORDER:
            raise HarnessError(f"{EXPECTED}: {cid}: unknown verdict {want!r}; allowed: {', '.join(ORDER)}")
        got = fresh.get(cid)
        if got is None:
            worse.append(f"{cid}: expected {want}, missing from the results")
        elif ORDER[got] < ORDER[want]:
            worse.append(f"{cid}: expected {want}, got {got}")
        elif ORDER[got] > ORDER[want]:
            better.append(f"{cid}: expected {want}, got {got}")
    return worse, better


def fresh_verdicts(status_path: Path = STATUS, gated_only: bool = False) -> dict[str, str]:
    if not status_path.is_file():
        raise HarnessError(f"{status_path}: not found; run the pipeline first (dvc repro)")
    return {c["id"]: c["verdict"] for c in read_json(status_path).get("claims", []) if c["gate"] or not gated_only}


def main(argv: list[str]) -> None:
    if argv == ["--update"]:
        fresh = fresh_verdicts(gated_only=True)
        EXPECTED.write_text("# Verdicts CI holds the pipeline to (harness check). Update with: harness check --update\n" + yaml.safe_dump(fresh, sort_keys=True))
        print(f"{EXPECTED}: {len(fresh)} expected verdicts written")
        return
    if not EXPECTED.is_file():
        raise HarnessError(f"{EXPECTED}: not found; create it with harness check --update")
    expected = yaml.safe_load(EXPECTED.read_text()) or {}
    worse, better = compare(expected, fresh_verdicts())
    for line in better:
        print(f"improved: {line}")
    for line in worse:
        print(f"REGRESSION: {line}", file=sys.stderr)
    if worse:
        raise HarnessError(f"{len(worse)} claim(s) regressed: {', '.join(w.split(':')[0] for w in worse)}")
    print(f"check: {len(expected)} claims at or above their expected verdicts")
