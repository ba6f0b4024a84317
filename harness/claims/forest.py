"""A forest plot per component (``results/plots/forest/<component>.png``), drawn from status.json's claim rows alone:
what a referee reads first.

One row per claim of the component: the region the claim accepts (shaded), the estimate (dot) with its 90%
(thick) and 95% (thin) intervals, and the verdict. Claims measure different things (a count in millions, an
accuracy, a ratio), so each row keeps its own axis in its own units rather than forcing one scale on all; a row
with nothing to draw (not run, invalid, a diverged run) says why in words instead.
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import Any

FOREST = "forest"  # the plots' folder under results/plots/ (tabulate writes it, status.md links it)
COLOURS = {"reproduced": "tab:green", "exceeded": "tab:green", "not reproduced": "tab:red", "inconclusive": "tab:orange",
           "insufficient runs": "tab:orange", "invalid": "tab:purple", "not run": "tab:gray"}
REGION_COLOUR = "tab:green"
THIN, THICK = 1, 3  # line widths of the 95% and the 90% interval
# The picture's style (inches, points, fractions of the figure), one place to change it; what each row shows is the code's
WIDTH_INCHES, ROW_INCHES, FRAME_INCHES, TITLE_INCHES, AXIS_INCHES, DPI = 9, 0.55, 1.0, 0.75, 0.35, 110
LABEL_STYLE = {"ha": "right", "va": "center", "fontsize": 7}
REASON_STYLE = {"ha": "left", "va": "center", "fontsize": 6, "color": "dimgray"}
REGION_STYLE = {"alpha": 0.15, "lw": 0}
END_STYLE = {"lw": 0.8}
DOT_STYLE = {"ms": 4}
TICK_STYLE = {"labelsize": 6, "length": 2, "pad": 1}
TITLE_STYLE = {"fontsize": 8}
MARGINS = {"left": 0.42, "right": 0.98, "hspace": 1.2}


def forest_rows(claims: list[dict[str, Any]], component: str) -> list[dict[str, Any]]:
    """The component's claims as the plot draws them: id, verdict, estimate, intervals, region, or why none."""
    rows = []
    for c in claims:
        if c["component"] != component:
            continue
        ev, region = c.get("evidence") or {}, c.get("region") or {}
        drawable = c["estimate"] is not None and region and c["verdict"] not in ("not run", "invalid")
        rows.append({"id": c["id"], "verdict": c["verdict"], "estimate": c["estimate"] if drawable else None,
                     "ci90": ev.get("ci90") if drawable else None, "ci95": ev.get("ci95") if drawable else None,
                     "low": region.get("low"), "high": region.get("high"),
                     "why": None if drawable else (c["detail"] or c["verdict"])})
    return rows


def _span(row: dict[str, Any]) -> tuple[float, float]:
    """The x range a row needs: its estimate, intervals and the finite ends of its region, with a margin."""
    xs = [row["estimate"], *(row["ci95"] or ()), *(row["ci90"] or ()), row["low"], row["high"]]
    finite = [x for x in xs if x is not None and math.isfinite(x)]
    lo, hi = min(finite), max(finite)
    pad = (hi - lo) * 0.15 or max(abs(lo), 1.0) * 0.1
    return lo - pad, hi + pad


def plot_forest(rows: list[dict[str, Any]], title: str, path: Path) -> None:
    import matplotlib.pyplot as plt

    fig = draw_forest(rows, title)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(path, dpi=DPI)
    plt.close(fig)


def draw_forest(rows: list[dict[str, Any]], title: str):
    """The figure: one axes per row, in the rows' order, each ROW_INCHES tall under a title."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    n = max(len(rows), 1)
    height = ROW_INCHES * n + FRAME_INCHES
    fig, axes = plt.subplots(n, 1, figsize=(WIDTH_INCHES, height), squeeze=False)
    for ax, row in zip(axes[:, 0], rows):
        ax.set_yticks([])
        for side in ("top", "right", "left"):
            ax.spines[side].set_visible(False)
        colour = COLOURS[row["verdict"]]
        ax.text(-0.01, 0.5, f"{row['id']}  [{row['verdict']}]", transform=ax.transAxes, color=colour, **LABEL_STYLE)
        if row["estimate"] is None:
            ax.set_xticks([])
            ax.spines["bottom"].set_visible(False)
            why = row["why"] if len(row["why"]) <= 100 else row["why"][:99] + "…"
            ax.text(0.0, 0.5, why, transform=ax.transAxes, **REASON_STYLE)
            continue
        lo, hi = _span(row)
        low = row["low"] if row["low"] is not None else -math.inf
        high = row["high"] if row["high"] is not None else math.inf
        ax.axvspan(max(low, lo), min(high, hi), color=REGION_COLOUR, **REGION_STYLE)
        for end in (row["low"], row["high"]):
            if end is not None:
                ax.axvline(end, color=REGION_COLOUR, **END_STYLE)
        if row["ci95"]:
            ax.plot(row["ci95"], [0, 0], color=colour, lw=THIN)
        if row["ci90"]:
            ax.plot(row["ci90"], [0, 0], color=colour, lw=THICK)
        ax.plot([row["estimate"]], [0], "o", color=colour, **DOT_STYLE)
        ax.set_xlim(lo, hi)
        ax.set_ylim(-1, 1)
        ax.tick_params(axis="x", **TICK_STYLE)
    fig.suptitle(f"{title}: each claim's estimate, 90% (thick) and 95% (thin) intervals, and the region it accepts (green)",
                 **TITLE_STYLE)
    fig.subplots_adjust(top=1 - TITLE_INCHES / height, bottom=AXIS_INCHES / height, **MARGINS)
    return fig


def plot_components(status: dict[str, Any], folder: Path) -> dict[str, str]:
    """One plot per component with claims: component -> the file's name under ``folder``."""
    written = {}
    for component in status["components"]:
        rows = forest_rows(status["claims"], component["component"])
        if rows:
            name = f"{component['component']}.png"
            plot_forest(rows, component["title"], folder / name)
            written[component["component"]] = name
    return written
