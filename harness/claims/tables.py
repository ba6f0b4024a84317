"""The papers' tables as the papers lay them out (``results/tables/``): each printed cell beside our measurement.

A reader compares with the paper without translating claim ids: rows and columns are the claims' own
``source.row`` and ``source.column``, in the order the claims list them, and a cell holds every measurement claim
printed there. Built from the judged claims only, never by hand: a cell that did not run says why and gives the
command that runs it.
"""

from __future__ import annotations

import re
from typing import Any

from harness.claims.claim import Claim
from harness.claims.judges import fmt


def paper_tables(claims: list[Claim], judged: list[dict[str, Any]]) -> dict[str, str]:
    """File name -> markdown, one per (paper, table) with a printed number in a row and column."""
    groups: dict[tuple[str, str], list[tuple[Claim, dict[str, Any]]]] = {}
    for claim, row in zip(claims, judged):
        source = claim.source
        if claim.kind == "measurement" and claim.published is not None and source.row and source.column:
            groups.setdefault((source.paper, source.table), []).append((claim, row))
    return {f"{_slug(paper)}-{_slug(table)}.md": _render(paper, table, cells) for (paper, table), cells in groups.items()}


def _render(paper: str, table: str, cells: list[tuple[Claim, dict[str, Any]]]) -> str:
    rows = list(dict.fromkeys(c.source.row for c, _ in cells))
    columns = list(dict.fromkeys(c.source.column for c, _ in cells))
    grid: dict[tuple[str, str], list[str]] = {}
    for claim, judged in cells:
        grid.setdefault((claim.source.row, claim.source.column), []).append(cell(claim, judged))
    lines = [
        f"# {paper}, {table}: printed and reproduced",
        "",
        ("Each cell: the number the paper printed, then ours (mean over seeds, 95% interval) with the claim's verdict and the "
        "profile that produced it, or *not run* with the reason and the command that runs it. Written by `harness tabulate` "
        "from the claims in `experiments/claims/`; the verdicts are the ones in `results/status.md`."),
        "",
        "| row | " + " | ".join(columns) + " |",
        "|---|" + "---|" * len(columns),
    ]
    for name in rows:
        lines.append(f"| {name} | " + " | ".join("<br>".join(grid.get((name, col), [])) for col in columns) + " |")
    return "\n".join(lines) + "\n"


def cell(claim: Claim, judged: dict[str, Any]) -> str:
    printed = claim.published.text
    profile = getattr(claim.measure, "profile", None)
    if judged["verdict"] == "not run":
        how = f": `harness use-profile experiments/profiles/{profile}.yaml && dvc exp run`" if profile else ""
        return f"{printed} · *not run* ({judged['detail']}){how}"
    ev = judged["evidence"] or {}
    low, high = ev.get("ci95") or (None, None)
    interval = "" if low is None else f" [{fmt(low)}, {fmt(high)}]"
    where = f" (`{profile}`)" if profile else ""
    return f"{printed} · ours {fmt(judged['estimate'])}{interval} **{judged['verdict']}**{where}"


def _slug(text: str) -> str:
    return re.sub(r"[^a-z0-9]+", "-", text.lower()).strip("-")
