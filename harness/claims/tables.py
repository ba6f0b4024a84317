"""The papers' tables as the papers lay them out (``results/tables/``): each printed cell beside our measurement.

A reader compares with the paper without translating claim ids: rows and columns are the claims' own
``source.row`` and ``source.column``, in the order the claims list them, and a cell holds every claim that checks a
number printed there (a measurement, or a count read off a config). Built from the judged claims only, never by
hand: a cell that did not run says so and points to a note that gives the reason and the command that runs it (one
note per reason, since a whole column or row usually waits on the same profile).
"""

from __future__ import annotations

import re
from typing import Any

from harness.claims.claim import Claim
from harness.claims.judges import fmt

PRINTED_KINDS = ("measurement", "count")


def paper_tables(claims: list[Claim], judged: list[dict[str, Any]]) -> dict[str, str]:
    """File name -> markdown, one per numbered table (``Table n``) with a printed number in a row and column.

    Numbers from a paper's prose (abstract, a section) have no grid to lay out and stay in status.md only.
    """
    groups: dict[tuple[str, str], list[tuple[Claim, dict[str, Any]]]] = {}
    for claim, row in zip(claims, judged):
        source = claim.source
        gridded = source.row and source.column and source.table.startswith("Table ")
        if claim.kind in PRINTED_KINDS and claim.published is not None and gridded:
            groups.setdefault((source.paper, source.table), []).append((claim, row))
    return {f"{_slug(paper)}-{_slug(table)}.md": _render(paper, table, cells) for (paper, table), cells in groups.items()}


def _render(paper: str, table: str, cells: list[tuple[Claim, dict[str, Any]]]) -> str:
    rows = list(dict.fromkeys(c.source.row for c, _ in cells))
    # the papers print the parameter count before the scores, whichever claim file names it first
    columns = sorted(dict.fromkeys(c.source.column for c, _ in cells), key=lambda col: col != "trainable")
    notes: dict[str, int] = {}
    grid: dict[tuple[str, str], list[str]] = {}
    for claim, judged in cells:
        if judged["verdict"] == "not run":
            mark = notes.setdefault(judged["detail"], len(notes) + 1)
            text = f"{claim.published.text} · *not run* [{mark}]"
        else:
            text = cell(claim, judged)
        grid.setdefault((claim.source.row, claim.source.column), []).append(text)
    lines = [
        f"# {paper}, {table}: printed and reproduced",
        "",
        ("Each cell: the number the paper printed, then ours (mean over seeds, 95% interval) with the claim's verdict and the "
        "profile that produced it, or *not run* with a note [n] below that gives the reason and the command that runs it. "
        "Written by `harness tabulate` from the claims in `experiments/claims/`; the verdicts are the ones in "
        "`results/status.md`."),
        "",
        "| row | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in rows:
        lines.append(f"| {name} | " + " | ".join("<br>".join(grid.get((name, col), [])) for col in columns) + " |")
    if notes:
        lines += ["", "Not run:", ""] + [f"{mark}. {note}" for note, mark in notes.items()]
    return "\n".join(lines) + "\n"


def cell(claim: Claim, judged: dict[str, Any]) -> str:
    """A judged cell: printed, ours with its interval (or 'exact' for a count), verdict, and the profile measured."""
    ev = judged["evidence"] or {}
    low, high = ev.get("ci95") or (None, None)
    interval = " (exact)" if ev.get("interval_kind") == "exact" else "" if low is None else f" [{fmt(low)}, {fmt(high)}]"
    profile = getattr(claim.measure, "profile", None)
    where = f" (`{profile}`)" if profile else ""
    return f"{claim.published.text} · ours {fmt(judged['estimate'])}{interval} **{judged['verdict']}**{where}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
