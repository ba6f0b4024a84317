"""Judge every claim against the results at hand; never crash on a missing or odd result.

Many claims are judged at once, so their p-values are adjusted before any verdict is read off them:
the gated claims (those ``harness check`` holds) form one family under Holm's family-wise correction;
the rest of the table forms a second family under Benjamini-Hochberg's false-discovery-rate control.
Exact counts and zero-spread samples carry no p-value and belong to neither. Every row states its
family, raw and adjusted p-values, the interval and the region, so a verdict is recomputable by hand.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from harness.claims.claim import Claim
from harness.claims.judges import Region, Verdict, assess, classify, quantity
from harness.claims.measures import Context, NoEvidence, NotRun
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.core.paths import PAPERSCALE, PROFILE_PARAMS, PROFILE_RESULTS, RESULTS, result_file
from harness.core.registry import JUDGES, MEASURES
from harness.stats import Evidence, adjust

FAMILIES = {True: ("gated", "holm"), False: ("table", "fdr_bh")}

# the result files a claim may read, by stage kind (harness.core.paths.RESULT_FOLDERS); tuning records are not judged
READ = ("train", "eval", "truncate", "planted", "causal_train", "causal_eval", "causal_align", "causal_knowledge")


def load_context(results: Path, profile: str, runs: list[str]) -> Context:
    loaded: dict[str, dict[str, Any]] = {}
    for run in runs:
        files = {kind: result_file(kind, run, results) for kind in READ}
        loaded[run] = {kind: read_json(path) for kind, path in files.items() if path.is_file()}
    paperscale = results / PAPERSCALE.relative_to(RESULTS)
    return Context(profile=profile, runs=loaded, paperscale=read_json(paperscale) if paperscale.is_file() else None)


def pipeline_context(params: Any, results: Path) -> Context:
    """Everything a profile's pipeline writes that claims read: its runs, planted tasks, causal runs, the
    in-context row, the retrieved-demonstration rows, the SFT-then-DPO runs and the knowledge-update arms. Every
    stage that shows verdicts judges all claims in this one context, so one claim gets one verdict (the
    multiplicity families are the same everywhere)."""
    from harness.causal.evaluation import ICL
    from harness.causal.settings import causal_of, rag_names

    tasks = list(params.planted.tasks) if params.planted else []
    section = causal_of(params)
    causal = [*section.runs, ICL, *(section.align.runs if section.align else ()),
              *(section.knowledge.arms if section.knowledge else ()), *rag_names(section)] if section else []
    ctx = load_context(results, params.profile, list(dict.fromkeys([*params.train, *tasks, *causal])))
    others = profile_results(results)
    others.pop(params.profile, None)  # this profile's own pipeline outputs are the live ones
    return dataclasses.replace(ctx, profiles={name: pipeline_context(p, results / PROFILE_RESULTS.relative_to(RESULTS) / name)
                                              for name, p in others.items()})


def profile_results(results: Path) -> dict[str, Any]:
    """The profiles with results under ``<results>/profiles/<name>/`` (harness run-profile): name -> the params
    they ran with (the copy of the profile file kept beside them)."""
    from harness.core.config import load_params

    folder = results / PROFILE_RESULTS.relative_to(RESULTS)
    found = {}
    for params_file in sorted(folder.glob(f"[!.]*/{PROFILE_PARAMS}")):  # not run-profile's .<name>.tmp / .old folders
        params = load_params(params_file)
        if params.profile != params_file.parent.name:
            raise HarnessError(f"{params_file}: profile {params.profile!r} in a folder named {params_file.parent.name!r}; "
                               "the folder is the profile's name (harness run-profile writes both)")
        found[params.profile] = params
    return found


def measure_claim(claim: Claim, ctx: Context) -> tuple[Evidence | None, Region | None, Verdict | None]:
    """The evidence and region of one claim, or its verdict when no test is needed (not run, diverged)."""
    try:
        measured = MEASURES.get(claim.measure.kind).sample(claim.measure, ctx)
        region = JUDGES.get(claim.judge.kind).region(claim.judge, claim.published)
        sample = quantity(claim.judge.of, measured)
    except NotRun as why:
        needs = f"needs {', '.join(claim.requires)}: " if claim.requires else ""
        return None, None, Verdict("not run", None, None, f"{needs}{why}")
    except NoEvidence as why:
        return None, None, Verdict("inconclusive", None, None, str(why))
    except HarnessError as err:
        return None, None, Verdict("not run", None, None, str(err))
    ev, diverged = assess(sample, region)
    if diverged:
        return None, region, Verdict("not reproduced", None, region, diverged)
    return ev, region, None


def judge_claim(claim: Claim, ctx: Context) -> Verdict:
    """One claim on its own (a family of one: unadjusted p-values)."""
    ev, region, verdict = measure_claim(claim, ctx)
    return verdict or classify(ev, region)


def judge_all(claims: list[Claim], ctx: Context) -> list[dict[str, Any]]:
    measured = [measure_claim(c, ctx) for c in claims]
    adjusted: dict[int, tuple[float, float, str]] = {}
    for gated, (family, method) in FAMILIES.items():
        members = [i for i, (c, (ev, _, v)) in enumerate(zip(claims, measured)) if v is None and ev.p_inside is not None and c.gate == gated]
        p_in = adjust([measured[i][0].p_inside for i in members], method)
        p_out = adjust([measured[i][0].p_outside for i in members], method)
        adjusted.update({i: (a, b, f"{family} ({'Holm' if method == 'holm' else 'Benjamini-Hochberg'}, {len(members)} claims)")
                         for i, a, b in zip(members, p_in, p_out)})
    rows = []
    for i, (claim, (ev, region, verdict)) in enumerate(zip(claims, measured)):
        p_in_adj, p_out_adj, family = adjusted.get(i, (None, None, None))
        if verdict is None:
            verdict = classify(ev, region, (p_in_adj, p_out_adj) if family else None)
        rows.append(row(claim, verdict, p_in_adj, p_out_adj, family))
    return rows


def row(claim: Claim, v: Verdict, p_in_adj: float | None, p_out_adj: float | None, family: str | None) -> dict[str, Any]:
    ev, region = v.evidence, v.region
    centre = None if region is None or region.delta is None else (region.low + region.high) / 2
    return {
        "id": claim.id,
        "kind": claim.kind,
        "component": claim.component,
        "statement": claim.statement,
        "source": f"{claim.source.paper}, {claim.source.table}" + "".join(f", {x}" for x in (claim.source.row, claim.source.column) if x),
        "scale": claim.scale,
        "published": None if claim.published is None else claim.published.text,
        "estimate": None if ev is None else ev.mean,
        "effect": None if ev is None or centre is None else ev.mean - centre,  # ours - published (equivalence)
        "evidence": None if ev is None else ev.as_dict(),
        "region": None if region is None else {"low": finite(region.low), "high": finite(region.high), "text": region.text(),
                                                 "delta": region.delta, "delta_from": region.delta_from},
        "p_inside_adj": p_in_adj,
        "p_outside_adj": p_out_adj,
        "family": family,
        "verdict": v.verdict,
        "detail": v.detail,
        "seeds_needed": v.seeds_needed,
        "note": claim.note,
        "gate": claim.gate,
        "rating": claim.rating,
    }


def finite(x: float) -> float | None:
    """JSON has no infinity: an open end of a region is written as null."""
    return x if math.isfinite(x) else None
