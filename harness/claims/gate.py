"""``harness check``: fail when a gated claim regressed against the numbers committed as expected.

The expected state (``experiments/expected_verdicts.yaml``) is data reviewed in git: for every gated
claim that ran, its verdict, estimate and 95% interval; the gated claims that did not run are listed
apart and never counted as held. The fresh state comes from ``results/status.json`` (``tabulate``).
A claim regresses when

* its verdict ranks lower (reproduced/exceeded > inconclusive/insufficient runs > not reproduced/invalid > not run),
* or its estimate left the previous 95% interval (an exact value: moved at all) towards failing its
  region - down for an "at least", up for an "at most", away from the middle of a band,
* or it vanished from the results.

``harness check --update`` rewrites the expected state and prints every change, before -> after, with
the fresh verdict's reason. Claims marked ``gate: false`` (wall clock, RSS) are not held.
"""

from __future__ import annotations

import math
import sys
from pathlib import Path
from typing import Any

import yaml

from harness.claims.judges import ORDER
from harness.core.errors import HarnessError
from harness.core.io import load_yaml, read_json
from harness.core.paths import EXPECTED_VERDICTS, STATUS

HEADER = ("# What CI holds the pipeline to (harness check): per gated claim its verdict, estimate and 95% interval;\n"
          "# gated claims that did not run are listed apart. Update with: harness check --update\n")


def interval(row: dict[str, Any]) -> list[float] | None:
    ev = row.get("evidence")
    if not ev:
        return None
    return list(ev["ci95"]) if ev.get("ci95") else [ev["mean"], ev["mean"]]


def state(rows: list[dict[str, Any]]) -> dict[str, Any]:
    """The expected-state file's content for these fresh rows (gated claims only)."""
    gated = [r for r in rows if r["gate"]]
    held = {r["id"]: {"verdict": r["verdict"], "estimate": r["estimate"], "ci95": interval(r),
                      "region": [r["region"]["low"], r["region"]["high"]] if r.get("region") else None}
            for r in gated if r["verdict"] != "not run"}
    return {"held": dict(sorted(held.items())), "not_run": sorted(r["id"] for r in gated if r["verdict"] == "not run")}


def toward_failure(old: float, new: float, region: list[float | None] | None) -> bool:
    """Did the estimate move the way that fails the claim's region?"""
    if region is None:
        return False
    low, high = (-math.inf if region[0] is None else region[0]), (math.inf if region[1] is None else region[1])
    if math.isfinite(low) and math.isfinite(high):
        mid = (low + high) / 2
        return abs(new - mid) > abs(old - mid)
    return new < old if math.isfinite(low) else new > old


def compare(expected: dict[str, Any], fresh_rows: list[dict[str, Any]]) -> tuple[list[str], list[str]]:
    """(regressions, improvements) of the fresh rows against the expected state."""
    fresh = {r["id"]: r for r in fresh_rows}
    worse, better = [], []
    for cid, want in sorted(expected.get("held", {}).items()):
        if want["verdict"] not in ORDER:
            raise HarnessError(f"{EXPECTED_VERDICTS}: held.{cid}.verdict: unknown {want['verdict']!r}; allowed: {', '.join(ORDER)}")
        got = fresh.get(cid)
        if got is None:
            worse.append(f"{cid}: expected {want['verdict']}, missing from the results")
            continue
        if ORDER[got["verdict"]] < ORDER[want["verdict"]]:
            worse.append(f"{cid}: expected {want['verdict']}, got {got['verdict']} ({got['detail']})")
            continue
        new = got["estimate"]
        if want["ci95"] and new is not None:  # no interval: a claim held without an estimate (a diverged run)
            lo, hi = want["ci95"]
            if not lo <= new <= hi and toward_failure(want["estimate"], new, want.get("region")):
                worse.append(f"{cid}: estimate {new:.4g} left the previous 95% interval [{lo:.4g}, {hi:.4g}] towards failing its region")
                continue
        if ORDER[got["verdict"]] > ORDER[want["verdict"]]:
            better.append(f"{cid}: expected {want['verdict']}, got {got['verdict']}")
    return worse, better


def fresh_rows(status_path: Path = STATUS) -> list[dict[str, Any]]:
    if not status_path.is_file():
        raise HarnessError(f"{status_path}: not found; run the pipeline first (dvc repro)")
    return read_json(status_path).get("claims", [])


def load_expected(path: Path = EXPECTED_VERDICTS) -> dict[str, Any]:
    if not path.is_file():
        raise HarnessError(f"{path}: not found; create it with harness check --update")
    data = load_yaml(path.read_text()) or {}
    if not isinstance(data, dict) or set(data) - {"held", "not_run"}:
        raise HarnessError(f"{path}: expected the keys held and not_run (written by harness check --update)")
    return data


def held_text(held: dict[str, Any] | None) -> str:
    """A held claim as the update lists it; a verdict reached without an estimate (a diverged run, a tie that
    bears on nothing) shows none."""
    if held is None:
        return "absent"
    return held["verdict"] + ("" if held["estimate"] is None else f" ({held['estimate']:.4g})")


def changes(old: dict[str, Any], new: dict[str, Any], rows: list[dict[str, Any]]) -> list[str]:
    """Every difference between two expected states, with the fresh verdict's reason."""
    why = {r["id"]: r["detail"] for r in rows}
    out = []
    old_held, new_held = old.get("held", {}), new["held"]
    for cid in sorted(set(old_held) | set(new_held)):
        a, b = old_held.get(cid), new_held.get(cid)
        if a == b:
            continue
        out.append(f"{cid}: {held_text(a)} -> {held_text(b)}" + (f" - {why[cid]}" if cid in why else ""))
    for cid in sorted(set(new["not_run"]) ^ set(old.get("not_run", []))):
        out.append(f"{cid}: {'now not run' if cid in new['not_run'] else 'runs now'}" + (f" - {why[cid]}" if cid in why else ""))
    return out


def main(argv: list[str]) -> None:
    if argv not in ([], ["--update"]):
        raise HarnessError(f"harness check: unknown arguments {' '.join(argv)!r}; allowed: --update")
    rows = fresh_rows()
    if argv == ["--update"]:
        try:
            old = load_expected()
        except HarnessError as err:  # absent, or in a format this version no longer reads: every claim counts as changed
            print(f"previous expected state not read ({err}); writing it afresh")
            old = {}
        new = state(rows)
        lines = changes(old, new, rows)
        for line in lines:
            print(f"changed: {line}")
        EXPECTED_VERDICTS.write_text(HEADER + yaml.safe_dump(new, sort_keys=False))
        print(f"{EXPECTED_VERDICTS}: {len(new['held'])} held claims, {len(new['not_run'])} not run; {len(lines)} changed")
        return
    expected = load_expected()
    worse, better = compare(expected, rows)
    for line in better:
        print(f"improved: {line}")
    for line in worse:
        print(f"REGRESSION: {line}", file=sys.stderr)
    not_run = expected.get("not_run", [])
    if not_run:
        print(f"not held ({len(not_run)} gated claims not run here): {', '.join(not_run)}")
    stale = sorted(r["id"] for r in rows if r.get("stale") and r["id"] in expected.get("held", {}))
    if stale:
        print(f"held on stale results ({len(stale)} gated claims judged on a study whose results predate its code, "
              f"params or data; status.md says since when and why): {', '.join(stale)}")
    if worse:
        raise HarnessError(f"{len(worse)} claim(s) regressed: {', '.join(w.split(':')[0] for w in worse)}")
    print(f"check: {len(expected.get('held', {}))} claims hold their expected verdicts and estimates")
