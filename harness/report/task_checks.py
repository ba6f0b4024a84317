"""Does the default generated task stand in for real data? Three checks on committed results, and the figures.

A generated task earns its place only as far as it ranks methods as real data does, so the default task is
held to what ``experiments/task_checks.yaml`` states: it does not saturate (no PEFT method's mean test score
above a ceiling), it separates the comparisons the paper cares about (paired differences whose 95% interval
excludes 0), and its ranking of the atlas methods agrees with their ranking on real data (Spearman's rho
against a committed run of the same pipeline on that data, at or above a floor). A check whose inputs are
missing says "not run" and the command that would run it.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from pydantic.dataclasses import dataclass
from scipy.stats import spearmanr

from harness.claims.stats import summarize
from harness.core.errors import HarnessError
from harness.core.io import load_yaml, read_json
from harness.core.paths import TASK_CHECKS
from harness.core.schema import STRICT, validate


@dataclass(config=STRICT)
class Reference:
    results: str  # a results/ directory of the same pipeline run on real data (its eval/ and prepare.json)
    label: str
    command: str  # how it was made (printed where it is missing)
    runs: list[str]
    min_spearman: float


@dataclass(config=STRICT)
class TaskChecks:
    ceiling: float
    peft_runs: list[str]
    separated: list[tuple[str, str]]
    reference: Reference


def load_spec(path: Path = TASK_CHECKS) -> TaskChecks:
    if not path.is_file():
        raise HarnessError(f"{path}: not found")
    return validate(TaskChecks, load_yaml(path.read_text()), str(path))


def per_seed(runs: dict[str, dict[str, Any]], run: str, metric: str) -> dict[str, float] | None:
    """Test-split metric by seed of ``run`` (its ``eval`` results), or None when it did not run."""
    record = runs.get(run, {}).get("eval")
    return None if record is None else {s: v["metrics"][metric] for s, v in record["seeds"].items()}


def ceiling_check(runs: dict[str, dict[str, Any]], spec: TaskChecks, metric: str) -> dict[str, Any]:
    means = {r: summarize(v.values())["mean"] for r in spec.peft_runs if (v := per_seed(runs, r, metric))}
    if not means:
        return {"verdict": "not run", "why": "no PEFT run has results"}
    top = max(means, key=means.get)
    return {"verdict": "holds" if means[top] <= spec.ceiling else "fails", "ceiling": spec.ceiling, "top_run": top,
            "top_mean": means[top], "means": means}


def separation_check(runs: dict[str, dict[str, Any]], a: str, b: str, metric: str) -> dict[str, Any]:
    """a - b paired by seed: its mean and 95% interval; "holds" when the interval excludes 0 in a's favour."""
    sa, sb = per_seed(runs, a, metric), per_seed(runs, b, metric)
    if sa is None or sb is None:
        return {"a": a, "b": b, "verdict": "not run", "why": f"no results for {a if sa is None else b}"}
    seeds = sorted(set(sa) & set(sb), key=int)
    diff = summarize(sa[s] - sb[s] for s in seeds)
    low = diff["ci_low"]
    verdict = "holds" if low is not None and low > 0 else "fails"
    return {"a": a, "b": b, "seeds": seeds, "diff": diff, "verdict": verdict}


def rank_check(runs: dict[str, dict[str, Any]], spec: TaskChecks, metric: str, root: Path = Path(".")) -> dict[str, Any]:
    """Spearman's rho between the atlas runs' mean test scores here and on the real-data reference run."""
    ref = spec.reference
    where = root / ref.results
    if not (where / "eval").is_dir():
        return {"verdict": "not run", "why": f"no committed reference results at {ref.results}", "command": ref.command}
    reference = {}
    for run in ref.runs:
        path = where / "eval" / f"{run}.json"
        if path.is_file():
            reference[run] = summarize(v["metrics"][metric] for v in read_json(path)["seeds"].values())["mean"]
    here = {r: summarize(v.values())["mean"] for r in ref.runs if (v := per_seed(runs, r, metric))}
    common = [r for r in ref.runs if r in reference and r in here]
    if len(common) < 3:
        return {"verdict": "not run", "why": f"fewer than 3 runs in both ({', '.join(common) or 'none'})", "command": ref.command}
    rho = float(spearmanr([here[r] for r in common], [reference[r] for r in common]).statistic)
    prepared = read_json(where / "prepare.json")
    return {
        "verdict": "holds" if rho >= ref.min_spearman else "fails",
        "rho": rho,
        "min_spearman": ref.min_spearman,
        "label": ref.label,
        "results": ref.results,
        "runs": {r: {"here": here[r], "reference": reference[r]} for r in common},
        "reference_data": {"source": prepared["source"], "sizes": prepared["sizes"], "file_sha256": prepared["file_sha256"]},
        "reference_git": prepared["provenance"]["git"],
    }


def run_checks(runs: dict[str, dict[str, Any]], metric: str, spec: TaskChecks | None = None, root: Path = Path(".")) -> dict[str, Any]:
    spec = spec or load_spec(root / TASK_CHECKS)
    return {
        "ceiling": ceiling_check(runs, spec, metric),
        "separated": [separation_check(runs, a, b, metric) for a, b in spec.separated],
        "ranking": rank_check(runs, spec, metric, root),
    }


def render(checks: dict[str, Any], metric: str) -> list[str]:
    c, rank = checks["ceiling"], checks["ranking"]
    lines = ["", "## Does the generated task stand in for real data?", "",
             "Criteria: experiments/task_checks.yaml. Figures are test-split means over seeds.", ""]
    if c["verdict"] == "not run":
        lines.append(f"- Ceiling: not run ({c['why']}).")
    else:
        lines.append(f"- No PEFT method above {c['ceiling']:g}: **{c['verdict']}** (highest: {c['top_run']} {c['top_mean']:.2f}).")
    for s in checks["separated"]:
        if s["verdict"] == "not run":
            lines.append(f"- {s['a']} − {s['b']} > 0: not run ({s['why']}).")
            continue
        d = s["diff"]
        ci = "n/a" if d["ci_low"] is None else f"[{d['ci_low']:+.2f}, {d['ci_high']:+.2f}]"
        lines.append(f"- {s['a']} − {s['b']}, paired over seeds {', '.join(s['seeds'])}: {d['mean']:+.2f} points, "
                     f"95% CI {ci}: **{s['verdict']}** (the interval must exclude 0).")
    if rank["verdict"] == "not run":
        lines.append(f"- Ranking agrees with real data: **not run** ({rank['why']}); run: `{rank['command']}`.")
        return lines
    lines.append(f"- Ranking of the atlas methods agrees with {rank['label']}: Spearman's rho {rank['rho']:.3f} over "
                 f"{len(rank['runs'])} methods (at least {rank['min_spearman']:g} needed): **{rank['verdict']}**. "
                 f"Reference results: `{rank['results']}` (git `{(rank['reference_git']['sha'] or 'none')[:10]}`).")
    lines += ["", f"| run | {metric} here | {metric} on {rank['label']} |", "|---|---|---|"]
    order = sorted(rank["runs"], key=lambda r: -rank["runs"][r]["reference"])
    lines += [f"| {r} | {rank['runs'][r]['here']:.2f} | {rank['runs'][r]['reference']:.2f} |" for r in order]
    return lines
