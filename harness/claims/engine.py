"""Judge every claim against the results at hand; never crash on a missing or odd result."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from harness.claims import JUDGES, MEASURES, Claim
from harness.claims.judges import Verdict
from harness.claims.measures import Context, NotRun
from harness.errors import HarnessError
from harness.io import read_json

# results file kind -> its folder under results/; a file is <folder>/<name>.json, name a run, a planted
# task or a causal run
KINDS = {"train": "train", "eval": "eval", "truncate": "truncate", "planted": "planted",
         "causal_train": "causal/train", "causal_eval": "causal/eval"}


def load_context(results: Path, profile: str, runs: list[str]) -> Context:
    loaded: dict[str, dict[str, Any]] = {}
    for run in runs:
        files = {kind: results / folder / f"{run}.json" for kind, folder in KINDS.items()}
        loaded[run] = {kind: read_json(path) for kind, path in files.items() if path.is_file()}
    paperscale = results / "paperscale.json"
    return Context(results=results, profile=profile, runs=loaded, paperscale=read_json(paperscale) if paperscale.is_file() else None)


def judge_claim(claim: Claim, ctx: Context) -> Verdict:
    try:
        sample = MEASURES.get(claim.measure.kind).sample(claim.measure, ctx)
        return JUDGES.get(claim.judge.kind).judge(claim.judge, claim.published, sample)
    except NotRun as why:
        needs = f"needs {', '.join(claim.requires)}: " if claim.requires else ""
        return Verdict("not run", None, None, f"{needs}{why}")
    except HarnessError as err:
        return Verdict("not run", None, None, str(err))


def judge_all(claims: list[Claim], ctx: Context) -> list[dict[str, Any]]:
    rows = []
    for claim in claims:
        v = judge_claim(claim, ctx)
        ours = v.ours
        delta = None
        if ours and ours["mean"] is not None and claim.published is not None and claim.judge.kind in ("epsilon", "exact"):
            delta = ours["mean"] - claim.published
        rows.append({
            "id": claim.id,
            "statement": claim.statement,
            "source": f"{claim.source.paper}, {claim.source.table}" + "".join(f", {x}" for x in (claim.source.row, claim.source.column) if x),
            "scale": claim.scale,
            "published": claim.published,
            "ours": ours,
            "delta": delta,
            "verdict": v.verdict,
            "detail": v.detail,
            "more_seeds": v.more_seeds,
            "note": claim.note,
            "gate": claim.gate,
        })
    return rows
