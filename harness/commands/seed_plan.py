"""``harness seed-plan``: the next look of the sequential plan, for exactly the runs its open claims compare.

The plan (``experiments/seed_plan.yaml``, harness/claims/sequential.py) was written before its claims' runs: the looks
(seeds per compared run) and how alpha is spent over them. This command reads the judged table
(``results/status.json``), and for every planned claim still open (inconclusive) before the cap it names the profile,
the runs the claim compares and the seeds of the next look. With ``--apply`` it writes those seeds into the profile's
file (``train.<run>.seeds`` in ``experiments/profiles/<profile>.yaml``, comments kept), so the change is a params
change DVC and git both show, and appends what it did to ``experiments/seed_plan_applied.json``; then rerun the profile
(``harness run-profile <profile> evaluate``) and ``harness tabulate``. Seeds come from here, never by hand: a planned
claim whose runs hold a seed count between two looks is judged at the level of the last look it reached (status.md
prints the count beside the look).

    harness seed-plan                              # what the plan would add, nothing written
    harness seed-plan --apply                      # write it
    harness seed-plan --apply --profile <name>     # write one profile's part (profiles run one at a time)
"""

from __future__ import annotations

import datetime as dt
from pathlib import Path
from typing import Any

from harness.claims.claim import leaves
from harness.claims.loading import load_claims
from harness.core.errors import HarnessError
from harness.core.io import read_json, write_json
from harness.core.paths import CLAIMS_DIR, PROFILES, STATUS
from harness.core.provenance import record
from harness.core.report_paths import SEED_PLAN_RECORD


def next_looks(rows: list[dict[str, Any]], measures: dict[str, Any]) -> dict[str, dict[str, int]]:
    """profile -> run -> the seeds the plan's next look gives it, over every open planned claim (a run compared by
    claims at different looks gets the furthest next look)."""
    wanted: dict[str, dict[str, int]] = {}
    for row in rows:
        look = row.get("look")
        if not look or row["verdict"] != "inconclusive" or look["next"] is None:
            continue
        for leaf in leaves(measures[row["id"]]):
            if leaf.kind == "run":
                runs = wanted.setdefault(leaf.profile, {})
                runs[leaf.run] = max(runs.get(leaf.run, 0), look["next"])
    return wanted


def apply(wanted: dict[str, dict[str, int]], profiles: Path = PROFILES) -> list[dict[str, Any]]:
    """Write each run's next look into its profile's file (``train.<run>.seeds: [0 .. n-1]``), comments kept."""
    from ruamel.yaml import YAML

    yaml = YAML()
    yaml.preserve_quotes = True
    # ruamel writes None as an empty value; the profiles spell it `null`, and the file should change only where seeds do
    yaml.representer.add_representer(type(None), lambda rep, _: rep.represent_scalar("tag:yaml.org,2002:null", "null"))
    done = []
    for profile, runs in sorted(wanted.items()):
        path = profiles / f"{profile}.yaml"
        if not path.is_file():
            raise HarnessError(f"{path}: no profile file for profile {profile!r}; the seed plan extends profiles under {profiles}")
        doc = yaml.load(path.read_text())
        before_count = len(done)
        for run, n in sorted(runs.items()):
            if run not in (doc.get("train") or {}):
                raise HarnessError(f"{path}: train.{run}: no such run; the plan's claims compare it")
            before = list(doc["train"][run].get("seeds") or doc.get("seeds") or [])
            if len(before) >= n:
                continue
            doc["train"][run]["seeds"] = list(range(n))
            done.append({"profile": profile, "run": run, "seeds_before": len(before), "seeds_after": n})
        if len(done) > before_count:  # a file whose runs already hold the look is left as it is
            with path.open("w") as f:
                yaml.dump(doc, f)
    return done


USAGE = "usage: harness seed-plan [--apply] [--profile <name>]"


def parse_args(argv: list[str]) -> tuple[bool, str | None]:
    """(--apply given, the one profile asked for or None)."""
    rest, profile = list(argv), None
    if "--profile" in rest:
        at = rest.index("--profile")
        if at + 1 >= len(rest) or rest[at + 1].startswith("-"):
            raise HarnessError(f"{USAGE}: --profile needs a profile name")
        profile = rest.pop(at + 1)
        rest.pop(at)
    if rest not in ([], ["--apply"]):
        raise HarnessError(f"{USAGE}: unknown argument(s) {' '.join(a for a in rest if a != '--apply') or ' '.join(rest)}")
    return rest == ["--apply"], profile


def main(argv: list[str]) -> None:
    write, profile = parse_args(argv)
    if not STATUS.is_file():
        raise HarnessError(f"{STATUS}: missing; run `harness tabulate` first (the plan reads the judged table)")
    rows = read_json(STATUS)["claims"]
    measures = {c.id: c.measure for c in load_claims(CLAIMS_DIR)}
    wanted = next_looks(rows, measures)
    if profile is not None:
        if profile not in wanted:
            raise HarnessError(f"harness seed-plan --profile {profile}: the plan extends no run of it now; "
                               f"profiles it extends: {', '.join(sorted(wanted)) or 'none'}")
        wanted = {profile: wanted[profile]}
    if not wanted:
        print("seed plan: no planned claim is open before its cap; nothing to add")
        return
    for name, runs in sorted(wanted.items()):
        print(f"{name}: " + ", ".join(f"{run} -> {n} seeds" for run, n in sorted(runs.items())))
    if write:
        done = apply(wanted)
        history = read_json(SEED_PLAN_RECORD)["looks"] if SEED_PLAN_RECORD.is_file() else []
        stamp = dt.datetime.now(dt.timezone.utc).isoformat(timespec="seconds")
        write_json(SEED_PLAN_RECORD, {"looks": [*history, {"at": stamp, "extended": done, "provenance": record()}]})
        print(f"wrote {len(done)} run(s)' seeds into their profiles; record: {SEED_PLAN_RECORD}. Next: harness run-profile <profile> evaluate")
