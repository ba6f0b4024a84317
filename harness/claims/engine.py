"""Judge every claim against the results at hand; never crash on a missing or odd result.

Many claims are judged at once, so their p-values are adjusted before any verdict is read off them. The
families, stated here once (:func:`family_of`):

* the gated claims (those ``harness check`` holds) of one component form a family under Holm's family-wise
  correction: a component's status rests on its own claims, and the chance that any of its verdicts is a false
  one is held at alpha, whatever the other components ask (one family of every gated claim would make an
  unrelated question cost a component its power; one per claim would hold nothing);
* every claim that is not gated (wall clock, RSS, the ratings) forms one table-wide family under
  Benjamini-Hochberg's false-discovery-rate control: the share of false verdicts among those decided.

Exact counts and zero-spread samples carry no p-value and belong to none. Every row states its family, raw and
adjusted p-values, the interval and the region, so a verdict is recomputable by hand.
"""

from __future__ import annotations

import dataclasses
import math
from pathlib import Path
from typing import Any

from harness.claims import kinds  # noqa: F401  (registers every measure and judge kind this module looks up)
from harness.claims.claim import Claim, leaves
from harness.claims.competence import failed_arms, grid_edges
from harness.claims.judges import Region, Verdict, assess, classify, quantity
from harness.claims.measures import TIMED, Context, NoEvidence, NotRun
from harness.claims.sequential import Look, SeedPlan, load_plan
from harness.claims.stats import Evidence, adjust, region_p_values
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.core.paths import PAPERSCALE, PREPARE_SUMMARY, PROFILE_PARAMS, PROFILE_RESULTS, RESULTS, result_file
from harness.core.registry import JUDGES, MEASURES

METHOD_NAMES = {"holm": "Holm", "fdr_bh": "Benjamini-Hochberg"}


def family_of(claim: Claim) -> tuple[str, str]:
    """The family a claim's p-values are adjusted in, and how: (name, statsmodels method)."""
    if claim.gate:
        return (f"component {claim.component}" if claim.component else "gated, no component"), "holm"
    return "table", "fdr_bh"

# the result files a claim may read, by stage kind (harness.core.paths.RESULT_FOLDERS); tuning records are not judged,
# only read by the competence check (harness/claims/competence.py)
READ = ("train", "eval", "truncate", "planted", "causal_train", "causal_eval", "causal_align", "causal_knowledge")
TUNING = "tune"


def load_context(results: Path, profile: str, runs: list[str]) -> Context:
    loaded: dict[str, dict[str, Any]] = {}
    for run in runs:
        files = {kind: result_file(kind, run, results) for kind in (*READ, TUNING)}
        loaded[run] = {kind: read_json(path) for kind, path in files.items() if path.is_file()}
    paperscale, prepared = (results / p.relative_to(RESULTS) for p in (PAPERSCALE, PREPARE_SUMMARY))
    return Context(profile=profile, runs=loaded, paperscale=read_json(paperscale) if paperscale.is_file() else None,
                   prepared=read_json(prepared) if prepared.is_file() else None)


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
        try:
            measured, tie = MEASURES.get(claim.measure.kind).sample(claim.measure, ctx), None
        except NoEvidence as why:  # two arms alike on every seed: unless one did not learn (checked first), a tie
            measured, tie = None, why
        failed = failed_arms(claim.measure, ctx)
        if failed:
            return None, None, Verdict("invalid", None, None, "; ".join(f"invalid: {a.run} did not learn ({a.figure})" for a in failed))
        if tie is not None:
            raise tie
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
    families: dict[tuple[str, str], list[int]] = {}
    for i, (c, (ev, _, v)) in enumerate(zip(claims, measured)):
        if v is None and ev.p_inside is not None:
            families.setdefault(family_of(c), []).append(i)
    adjusted: dict[int, tuple[float, float, str]] = {}
    for (family, method), members in families.items():
        p_in = adjust([measured[i][0].p_inside for i in members], method)
        p_out = adjust([measured[i][0].p_outside for i in members], method)
        adjusted.update({i: (a, b, f"{family} ({METHOD_NAMES[method]}, {len(members)} claims)") for i, a, b in zip(members, p_in, p_out)})
    plan = load_plan()
    rows = []
    for i, (claim, (ev, region, verdict)) in enumerate(zip(claims, measured)):
        p_in_adj, p_out_adj, family = adjusted.get(i, (None, None, None))
        look = plan.look(ev.n) if plan.covers(claim.id) and ev is not None and verdict is None else None
        if verdict is None:
            verdict = classify(ev, region, (p_in_adj, p_out_adj) if family else None, **({"alpha": look.level} if look else {}))
        rows.append({**row(claim, verdict, p_in_adj, p_out_adj, family), "grid_edge": grid_edges(claim.measure, ctx),
                     "look": None if look is None else planned_look(look, verdict, plan)})
    return rows


def planned_look(look: Look, verdict: Verdict, plan: SeedPlan) -> dict[str, Any]:
    """A planned claim's look (harness/claims/sequential.py) and, while it is open, what its seeds' mean and spread
    would decide at the plan's cap (its last look's nominal level): the seeds the plan would still add."""
    at_cap = None
    ev, region = verdict.evidence, verdict.region
    if verdict.verdict == "inconclusive" and look.next is not None and ev is not None and ev.interval_kind == "confidence":
        p_in, p_out = region_p_values(ev.mean, ev.sd, look.cap, region.low, region.high)
        final = plan.look(look.cap).level
        at_cap = "inside" if p_in < final else "outside" if p_out < final else "neither"
    return {"k": look.k, "of": look.of, "n": look.n, "level": look.level, "next": look.next, "cap": look.cap, "text": look.text(),
            "at_cap": at_cap}


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
        "varies_with": varies_with(claim),
        "rating": claim.rating,
    }


def varies_with(claim: Claim) -> str | None:
    """What a claim's figure varies with from run to run besides the seeds: the machine's speed (a wall-clock
    figure), the process's memory (an RSS figure), or nothing (None): why a claim is or may be left out of the gate."""
    fields = [getattr(leaf, "field", "") or "" for leaf in leaves(claim.measure)]
    if any(TIMED.search(f) for f in fields):
        return "wall-clock"
    if any(f.startswith("memory.") for f in fields) or any(leaf.kind == "memory_model" for leaf in leaves(claim.measure)):
        return "RSS"
    return None


def finite(x: float) -> float | None:
    """JSON has no infinity: an open end of a region is written as null."""
    return x if math.isfinite(x) else None
