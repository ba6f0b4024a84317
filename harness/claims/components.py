"""A component's status, derived from the claims tagged with it - never from method names in code.

Only the kinds in ``STATUS_KINDS`` decide (a paper-scale measurement, an exact count, a paper's relation
transferred to our scale); ratings - questions of ours with margins we chose - are shown beside, so a
lenient margin can never make a component look reproduced. A component whose deciding claims are all exact
counts reads "counts only": a count checks the bookkeeping (parameters, bytes), never the paper's experiment.
"""

from __future__ import annotations

from collections import Counter
from pathlib import Path
from typing import Any

from harness.claims.claim import STATUS_KINDS
from harness.core.errors import HarnessError
from harness.core.io import load_yaml
from harness.core.paths import COMPONENTS

HOLDS = ("reproduced", "exceeded")


def load_components(path: Path = COMPONENTS) -> dict[str, str]:
    if not path.is_file():
        raise HarnessError(f"{path}: not found (component name -> title)")
    return load_yaml(path.read_text()) or {}


def status_of(verdicts: list[str]) -> str:
    """The status the deciding verdicts give: the worst and the best both show."""
    decided = [v for v in verdicts if v not in ("not run", "invalid")]  # an invalid comparison is evidence of nothing
    held = sum(v in HOLDS for v in decided)
    failed = decided.count("not reproduced")
    if not decided:
        return "invalid" if "invalid" in verdicts else "not run"
    if failed and held:
        return "mixed"
    if failed:
        return "not reproduced"
    if held == len(decided):
        return "reproduced"
    return "partly reproduced" if held else "inconclusive"


def summarize_components(rows: list[dict[str, Any]], titles: dict[str, str]) -> list[dict[str, Any]]:
    out = []
    for name, title in titles.items():
        mine = [r for r in rows if r["component"] == name]
        deciding = [r["verdict"] for r in mine if r["kind"] in STATUS_KINDS]
        ratings = [r["verdict"] for r in mine if r["kind"] not in STATUS_KINDS]
        counts_alone = bool(deciding) and all(r["kind"] == "count" for r in mine if r["kind"] in STATUS_KINDS)
        status = "counts only" if counts_alone else status_of(deciding) if deciding or not ratings else "ratings only"
        out.append({"component": name, "title": title, "status": status,
                    "deciding": dict(Counter(deciding)), "ratings": dict(Counter(ratings))})
    return out
