"""The verdict engine: claims as data, their validation, the judges' regions and the statistics behind them."""

import copy
import dataclasses
import math
import shutil
from pathlib import Path

import numpy as np
import pytest
import yaml

from harness.claims.claim import VERDICTS, leaves, parse_published, sides
from harness.claims.engine import judge_all, judge_claim
from harness.claims.judges import ORDER, classify
from harness.claims.loading import load_claims, parse_claim
from harness.claims.measures import Context, PairMeasure, combined_domain
from harness.core.errors import HarnessError
from harness.core.registry import JUDGES, MEASURES
from tests.conftest import ROOT

CLAIMS = ROOT / "experiments" / "claims"


def ctx_with(runs: dict[str, list[float]], paperscale=None, field="accuracy") -> Context:
    """Eval results per run: one accuracy per seed (seed i -> value i)."""
    loaded = {run: {"eval": {"seeds": {str(i): {"metrics": {field: v}} for i, v in enumerate(values)}}} for run, values in runs.items()}
    return Context(profile="smoke", runs=loaded, paperscale=paperscale)


def claim(**over):
    raw = {
        "id": "t.claim", "kind": "measurement", "statement": "s", "source": {"paper": "P", "table": "T1", "row": "r", "column": "c"},
        "scale": "paper", "published": "90.0", "measure": {"kind": "run", "run": "a", "field": "metrics.accuracy"},
        "judge": {"kind": "equivalence", "better": "higher"},
    }
    raw.update(over)
    return parse_claim(raw, "test.yaml")


def pair(a="a", b="b"):
    return {"kind": "pair", "a": {"kind": "run", "run": a, "field": "metrics.accuracy"}, "b": {"kind": "run", "run": b, "field": "metrics.accuracy"}}


def relation(**over):
    return claim(**{"kind": "transferred", "scale": "smoke", "published": None, "measure": pair(),
                    "judge": {"kind": "bound", "of": "difference", "at_least": 0}, **over})


@pytest.mark.parametrize("text, value, half", [
    ("96.10", 96.10, 0.005), ("95.1", 95.1, 0.05), ("350", 350, 5), ("10,000", 10_000, 5_000), ("3", 3, 0.5),
    ("1.33M", 1.33e6, 5_000), ("0.3M", 3e5, 5e4), ("125.0M", 125e6, 5e4), ("1.2K", 1200, 50), ("0", 0, 0.5),
])
def test_published_keeps_its_printed_precision(text, value, half):
    p = parse_published(text, "x")
    assert p.value == pytest.approx(value) and p.half_unit == pytest.approx(half)


def test_equivalence_uses_the_printed_rounding_and_reads_exceeded():
    c = claim(published="96.10")  # delta = 0.005: only a tight 5-seed mean matches
    assert judge_claim(c, ctx_with({"a": [96.101, 96.1, 96.099, 96.1, 96.1]})).verdict == "reproduced"
    assert judge_claim(c, ctx_with({"a": [95.0, 95.1, 95.2]})).verdict == "not reproduced"
    assert judge_claim(c, ctx_with({"a": [97.0, 97.1, 97.2]})).verdict == "exceeded"  # above the paper: its own verdict
    assert judge_claim(c, ctx_with({"a": [95.0, 96.1, 97.2]})).verdict == "inconclusive"


def test_delta_is_the_largest_of_margin_rounding_and_spread():
    region = JUDGES.get("equivalence").region
    settings = JUDGES.get("equivalence").Config
    assert region(settings(kind="equivalence"), parse_published("95.1", "x")).delta == pytest.approx(0.05)
    assert region(settings(kind="equivalence", spread=0.2), parse_published("95.1", "x")).delta_from == "paper's spread"
    r = region(settings(kind="equivalence", margin=0.5, spread=0.2, reason="r"), parse_published("95.1", "x"))
    assert (r.low, r.high, r.delta_from) == (pytest.approx(94.6), pytest.approx(95.6), "stated margin")


def test_one_seed_is_insufficient_runs_never_reproduced():
    v = judge_claim(claim(), ctx_with({"a": [90.0]}))
    assert v.verdict == "insufficient runs" and v.detail == "1 seed: a quantity that varies by seed needs at least 2 for an interval"
    assert v.evidence.n == 1 and v.region.low == pytest.approx(89.95) and v.seeds_needed == (2, "inside")
    assert judge_claim(claim(), ctx_with({"a": [80.0]})).seeds_needed == (2, "outside")


def test_zero_spread_is_reported_as_such_and_judged_on_the_point():
    v = judge_claim(claim(), ctx_with({"a": [90.01, 90.01, 90.01]}))
    assert v.verdict == "reproduced" and v.evidence.interval_kind == "zero spread" and "deterministic" in v.detail
    assert judge_claim(claim(), ctx_with({"a": [89.0, 89.0, 89.0]})).verdict == "not reproduced"


def test_a_tie_on_every_seed_is_inconclusive_not_a_relation_reproduced():
    """Two arms both predicting one class score alike on every seed; "a >= b" must not pass on the tie."""
    c = relation()
    v = judge_claim(c, ctx_with({"a": [51.5, 51.5, 51.5], "b": [51.5, 51.5, 51.5]}))
    assert v.verdict == "inconclusive" and v.detail.startswith("a and b score the same metrics.accuracy on each of the 3 seeds (51.5 throughout)")
    rating = claim(kind="rating", scale="smoke", published=None, measure=pair(),
                   judge={"kind": "bound", "of": "difference", "at_least": -1.0, "reason": "r"})
    assert judge_claim(rating, ctx_with({"a": [0.0] * 3, "b": [0.0] * 3})).verdict == "inconclusive"  # inside the margin, on a tie
    v = judge_claim(c, ctx_with({"a": [51.5, 52.5, 51.5], "b": [51.5, 52.5, 51.5]}))  # alike seed by seed, not constant
    assert v.verdict == "inconclusive" and v.detail.startswith("a and b score the same metrics.accuracy on each of the 3 seeds: not told apart")
    # a count computed exactly (trainable parameters) is no tie: two methods training as many weights is the answer
    counts = {r: {"train": {"seeds": {str(i): {"trainable_params": 1000} for i in range(3)}}} for r in ("a", "b")}
    side = {"kind": "run", "file": "train", "field": "trainable_params"}
    same_count = relation(measure={"kind": "pair", "a": {**side, "run": "a"}, "b": {**side, "run": "b"}})
    v = judge_claim(same_count, Context(profile="smoke", runs=counts, paperscale=None))
    assert v.verdict == "reproduced" and v.evidence.interval_kind == "exact"
    bound = claim(kind="rating", scale="smoke", published=None, judge={"kind": "bound", "at_least": 51.5, "reason": "r"})
    v = judge_claim(bound, ctx_with({"a": [51.5, 51.5, 51.5]}))  # one measure, exactly on its bound on every seed
    assert v.verdict == "inconclusive" and "a tie that bears on neither side" in v.detail
    assert v.evidence.mean == 51.5 and v.region.low == 51.5  # the row still shows its estimate and region
    assert judge_claim(c, ctx_with({"a": [52.5, 52.5, 52.5], "b": [51.5, 51.5, 51.5]})).verdict == "reproduced"
    assert judge_claim(c, ctx_with({"a": [50.5, 50.5, 50.5], "b": [51.5, 51.5, 51.5]})).verdict == "not reproduced"


def test_a_floor_tie_on_a_field_outside_metrics_is_a_tie_too():
    """Two knowledge arms that recall no fact on any seed (fact_accuracy 0.0 throughout) were not told apart: "a is
    at least 10 points above b" is then inconclusive, never "not reproduced" on the tie alone."""
    def ctx(a, b):
        return Context(profile="smoke", paperscale=None, runs={r: {"causal_knowledge": {"seeds": {str(i): {"fact_accuracy": v} for i, v in enumerate(vals)}}}
                                              for r, vals in (("a", a), ("b", b))})
    side = {"kind": "run", "file": "causal_knowledge", "field": "fact_accuracy"}
    rating = claim(kind="rating", scale="smoke", published=None,
                   measure={"kind": "pair", "a": {**side, "run": "a"}, "b": {**side, "run": "b"}},
                   judge={"kind": "bound", "of": "difference", "at_least": 10.0, "reason": "r"})
    v = judge_claim(rating, ctx([0.0] * 3, [0.0] * 3))
    assert v.verdict == "inconclusive" and "score the same fact_accuracy on each of the 3 seeds (0 throughout)" in v.detail
    assert judge_claim(rating, ctx([1.0, 2.0, 0.0], [0.0] * 3)).verdict == "not reproduced"


def test_nan_metric_is_not_reproduced_not_a_crash():
    v = judge_claim(claim(), ctx_with({"a": [95.0, math.nan, 94.0]}))
    assert v.verdict == "not reproduced" and v.detail == "a seed produced a non-finite value (diverged run or undefined metric)"
    assert v.region is not None and v.evidence is None


def test_a_pair_without_common_seeds_is_not_run_with_the_reason():
    v = judge_claim(relation(), Context("smoke", {"a": {"eval": {"seeds": {"0": {"metrics": {"accuracy": 1.0}}}}},
                                                   "b": {"eval": {"seeds": {"1": {"metrics": {"accuracy": 1.0}}}}}}, None))
    assert (v.verdict, v.detail, v.region, v.evidence) == ("not run", "the two measures share no seed to pair on", None, None)


def test_missing_results_are_not_run_with_reason():
    assert judge_claim(claim(), ctx_with({})).detail == "no eval results for run 'a' in this profile"  # no "needs" prefix
    v = judge_claim(claim(requires=["gpu"]), ctx_with({}))
    assert v.verdict == "not run" and v.detail == "needs gpu: no eval results for run 'a' in this profile"
    v = judge_claim(claim(measure={"kind": "run", "run": "a", "field": "metrics.accuracy", "profile": "paper-x"}), ctx_with({"a": [1.0, 2.0]}))
    assert v.verdict == "not run" and "profile paper-x has not run here" in v.detail


def test_relation_is_one_sided_and_paired_by_seed():
    # a beats b by exactly 1 on every seed although the spread across seeds is large
    assert judge_claim(relation(), ctx_with({"a": [80.0, 90.0, 85.0], "b": [79.0, 89.1, 84.0]})).verdict == "reproduced"
    assert judge_claim(relation(), ctx_with({"a": [70.0, 71.0, 72.0], "b": [79.0, 89.0, 84.0]})).verdict == "not reproduced"
    v = judge_claim(relation(), ctx_with({"a": [80.0, 90.0, 85.0], "b": [81.0, 89.0, 85.0]}))
    assert v.verdict == "inconclusive"


def test_counts_are_exact():
    ps = {"m.lora": {"trainable_params": 294912, "base_params": 124645632}}
    count = dict(kind="count", measure={"kind": "paperscale", "key": "m.lora", "field": "trainable_params"}, judge={"kind": "equivalence"})
    assert judge_claim(claim(**count, published="0.3M"), ctx_with({}, ps)).verdict == "reproduced"
    assert judge_claim(claim(**count, published="0.28M"), ctx_with({}, ps)).verdict == "not reproduced"
    assert judge_claim(claim(**count, published="294,913"), ctx_with({}, ps)).verdict == "not reproduced"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"measure": {"kind": "run", "run": "a", "field": "metrics.acc"}}, "claim t.claim: measure: unknown metric 'acc'"),
        ({"measure": {"kind": "run", "run": "a", "field": "accuracy"}}, "claim t.claim: measure: unknown field 'accuracy' in eval results"),
        ({"judge": {"kind": "roughly"}}, "claim t.claim: judge.kind: unknown judge kind 'roughly'; known: bound, equivalence"),
        ({"source": None}, "claim t.claim.source"),
        ({"published": 96.1}, "claim t.claim.published"),  # a float has lost its printed digits
        ({"published": "about 96"}, "published: 'about 96' is not a number as printed"),
        ({"published": None}, "an equivalence needs either the published number or a target"),
        ({"source": {"paper": "P", "table": "T1"}}, "a published number needs the table, row and column"),
        ({"kind": "rating", "scale": "smoke"}, "a rating claim holds no published number"),
        ({"scale": "smoke"}, "a measurement claim is at paper scale"),
        ({"judge": {"kind": "equivalence", "margin": 1.0}}, "judge.reason: a stated margin (1.0) needs its reason"),
        ({"measure": pair(), "judge": {"kind": "bound", "at_least": 0}, "published": None}, "a pair measure needs of: difference or ratio"),
        ({"kind": "count"}, "a count claim reads exact counts"),
        ({"kind": "transferred", "scale": "paper", "published": None, "measure": pair(), "judge": {"kind": "bound", "of": "difference", "at_least": 0}},
         "scale: a transferred claim is asked at our (smoke) scale"),
        ({"kind": "rating", "scale": "paper", "published": None, "judge": {"kind": "bound", "at_least": 0, "reason": "r"}},
         "scale: a rating claim is asked at our (smoke) scale"),
        ({"published": None, "measure": pair(), "judge": {"kind": "bound", "of": "ratio", "at_least": 2}},
         "judge: a measurement relation keeps the paper's: one side at a / b = 1; another threshold is a rating"),
        ({"published": None, "measure": pair(), "judge": {"kind": "bound", "of": "difference", "at_least": 0, "at_most": 1}},
         "judge: a measurement relation keeps the paper's: one side at a - b = 0"),
        ({"kind": "count", "published": None, "measure": {"kind": "paperscale", "key": "k", "field": "f"}, "judge": {"kind": "equivalence", "target": 1.0}},
         "judge.target: a count claim is judged against the published number"),
        ({"published": None, "judge": {"kind": "equivalence", "target": 1.0}}, "judge.target: a measurement claim is judged against the published number"),
        ({"source": {"paper": "P", "table": "T", "row": "r"}}, "a published number needs the table, row and column"),
        ({"measure": pair() | {"a": "run"}, "published": None, "judge": {"kind": "bound", "of": "difference", "at_least": 0}},
         "measure.a.kind: required key is missing; known: difference, memory_model, pair, paperscale, rank_spread, run"),
        ({"measure": pair() | {"a": {"kind": "run", "run": "a", "field": "nope"}}, "published": None,
          "judge": {"kind": "bound", "of": "difference", "at_least": 0}}, "test.yaml: claim t.claim: measure.a: unknown field 'nope'"),
        ({"judge": {"kind": "equivalence", "of": "ratio"}}, "judge.of: only a pair measure has a difference or ratio (measure.kind is 'run')"),
        ({"published": "1.0.0"}, "test.yaml: claim t.claim: published: '1.0.0' is not a number as printed"),
    ],
)
def test_malformed_claims_name_id_and_field(change, expected):
    with pytest.raises(HarnessError) as err:
        claim(**change)
    assert expected in str(err.value) and str(err.value).startswith("test.yaml: claim t.claim")


def test_a_transferred_relation_keeps_the_papers_direction_and_a_rating_its_reason():
    with pytest.raises(HarnessError, match="keeps the paper's: one side at a - b = 0; another threshold is a rating"):
        relation(judge={"kind": "bound", "of": "difference", "at_least": -2.0})
    with pytest.raises(HarnessError, match="a rating states why its thresholds are what they are"):
        claim(kind="rating", scale="smoke", published=None, measure=pair(), judge={"kind": "bound", "of": "difference", "at_least": -2.0})
    assert claim(kind="rating", scale="smoke", published=None, measure=pair(),
                 judge={"kind": "bound", "of": "difference", "at_least": -2.0, "reason": "why"}).kind == "rating"


def repo_claims_with(tmp_path: Path, edit, file: str = "lora.yaml") -> Path:
    """A copy of the repository's claims with one file's entries edited (``edit(list of raw claims)``)."""
    folder = tmp_path / "claims"
    shutil.copytree(CLAIMS, folder)
    raw = yaml.safe_load((folder / file).read_text())
    edit(raw)
    (folder / file).write_text(yaml.safe_dump(raw, sort_keys=False))
    return folder


def claims_file(cid: str) -> str:
    return next(f.name for f in sorted(CLAIMS.glob("*.yaml")) if any(c["id"] == cid for c in yaml.safe_load(f.read_text())))


def edit_claim(cid: str, **measure):
    def edit(raw):
        entry = next(c for c in raw if c["id"] == cid)
        entry["measure"].update(measure)
    return edit


@pytest.mark.parametrize("cid, change, expected", [
    ("lora.t2.roberta-base.params", {"key": "roberta-base.lora-r8-qk"}, "no paperscale entry 'roberta-base.lora-r8-qk'; closest: roberta-base.lora-r8-qv"),
    ("lora.t2.roberta-base.params", {"field": "trainable_param"}, "paperscale writes no 'trainable_param'; closest: trainable_params"),
    ("lora.t2.roberta-base.sst2", {"profile": "paper-lora-roberta-base-sst"}, "no profile 'paper-lora-roberta-base-sst'"),
    ("lora.t2.roberta-base.sst2", {"run": "lorra"}, "profile paper-lora-roberta-base-sst2 has no eval run 'lorra'; closest: lora"),
    ("lora.headline.no-added-latency", {"run": "lora_r3"}, "closest: lora_r4, lora_r2"),
])
def test_a_typo_in_a_measure_is_an_error_naming_the_closest_names(tmp_path, cid, change, expected):
    folder = repo_claims_with(tmp_path, edit_claim(cid, **change), claims_file(cid))
    with pytest.raises(HarnessError) as err:
        load_claims(folder, ROOT)
    assert f"claim {cid}" in str(err.value) and expected in str(err.value)


def test_one_measurement_is_judged_by_one_claim(tmp_path):
    def duplicate(raw):
        twin = dict(next(c for c in raw if c["id"] == "lora.t2.roberta-large.params"), id="lora.twin")
        raw.append(twin)
    with pytest.raises(HarnessError, match="judges the same measurement as claim lora.t2.roberta-large.params; a measurement is counted once"):
        load_claims(repo_claims_with(tmp_path, duplicate), ROOT)


def test_repo_claims_validate_and_name_existing_profiles():
    claims = load_claims(CLAIMS, ROOT)  # reference checks: every profile, run, entry and field exists
    assert {c.kind for c in claims} == {"measurement", "count", "transferred", "rating"}
    assert all(c.published is None or c.kind in ("measurement", "count") for c in claims)


# --- falsifiability: every claim in the repository can both pass and fail ---

def quantity_domain(c) -> tuple[float, float]:
    if c.judge.of is None:
        return MEASURES.get(c.measure.kind).domain(c.measure)
    return combined_domain(*PairMeasure.domains(c.measure), c.judge.of)


def inside_point(low, high, dom):
    lo, hi = max(low, dom[0]), min(high, dom[1])
    assert lo < hi, "no value the quantity can take passes"
    if math.isfinite(lo) and math.isfinite(hi):
        x = (lo + hi) / 2
        return x, (hi - lo) / 20
    x = lo + max(1.0, abs(lo)) / 2 if math.isfinite(lo) else hi - max(1.0, abs(hi)) / 2
    return x, abs(x - (lo if math.isfinite(lo) else hi)) / 10


def outside_points(low, high, dom):
    points = []
    if low > dom[0]:
        d = max(1.0, abs(low)) / 2 if math.isinf(dom[0]) else (low - dom[0]) / 2
        points.append((low - d, d / 10))
    if high < dom[1]:
        d = max(1.0, abs(high)) / 2 if math.isinf(dom[1]) else (dom[1] - high) / 2
        points.append((high + d, d / 10))
    return points


def verdict_at(c, region, x: float, eps: float, exact: bool) -> str:
    from harness.claims.stats import evidence

    values = [x] if exact else [x - eps, x, x + eps]
    return classify(evidence(values, region.low, region.high, exact=exact), region).verdict


@pytest.mark.parametrize("c", load_claims(CLAIMS, ROOT), ids=lambda c: c.id)
def test_every_claim_can_pass_and_can_fail(c):
    """A measurement that makes the claim's judge pass and one that makes it fail, both within the values
    the quantity can take at all ("accuracy >= 0" has no failing measurement and fails here)."""
    region = JUDGES.get(c.judge.kind).region(c.judge, c.published)
    dom = quantity_domain(c)
    for exact in (True, False):
        x, eps = inside_point(region.low, region.high, dom)
        assert verdict_at(c, region, x, eps, exact) == "reproduced"
        failing = outside_points(region.low, region.high, dom)
        assert failing, f"{c.id}: its region {region.text()} covers every value the quantity can take {dom}: it cannot fail"
        for y, e in failing:
            assert verdict_at(c, region, y, e, exact) in ("not reproduced", "exceeded")


def test_verdict_order_ranks_every_verdict():
    assert ORDER["reproduced"] == ORDER["exceeded"] > ORDER["inconclusive"] == ORDER["insufficient runs"] > ORDER["not reproduced"] == ORDER["invalid"] > ORDER["not run"]
    assert set(ORDER) == set(VERDICTS)


def test_multiplicity_adjusts_within_a_family():
    """Alone, a claim at p ~ 0.02 is reproduced; judged with 20 gated claims whose p are ~1 it is not (Holm)."""
    def c(i, gate=True):
        return relation(id=f"t.c{i}", measure=pair(f"a{i}", f"b{i}"), gate=gate)
    strong = {"a0": [81.0, 82.0, 81.5], "b0": [80.0, 80.0, 80.0]}
    weak = {f"{x}{i}": v for i in range(1, 21) for x, v in (("a", [80.0, 81.0, 79.0]), ("b", [80.0, 80.0, 80.0]))}
    alone = judge_claim(c(0), ctx_with(strong))
    assert alone.verdict == "reproduced"
    rows = judge_all([c(i) for i in range(21)], ctx_with({**strong, **weak}))
    assert rows[0]["verdict"] == "inconclusive" and rows[0]["family"].startswith("gated, no component (Holm, 21 claims)")
    assert "not after the correction" in rows[0]["detail"]
    ungated = judge_all([c(0, gate=False), *[c(i) for i in range(1, 21)]], ctx_with({**strong, **weak}))
    assert ungated[0]["family"].startswith("table (Benjamini-Hochberg, 1 claims)") and ungated[0]["verdict"] == "reproduced"


def test_each_components_gated_claims_are_a_family_of_their_own():
    """The same strong claim in component x keeps its verdict beside 20 weak claims of component y (Holm per
    component), and loses it when the 20 are x's own."""
    def c(i, component):
        return relation(id=f"t.c{i}", measure=pair(f"a{i}", f"b{i}"), component=component)
    strong = {"a0": [81.0, 82.0, 81.5], "b0": [80.0, 80.0, 80.0]}
    weak = {f"{x}{i}": v for i in range(1, 21) for x, v in (("a", [80.0, 81.0, 79.0]), ("b", [80.0, 80.0, 80.0]))}
    apart = judge_all([c(0, "x"), *[c(i, "y") for i in range(1, 21)]], ctx_with({**strong, **weak}))
    assert apart[0]["family"] == "component x (Holm, 1 claims)" and apart[0]["verdict"] == "reproduced"
    assert apart[1]["family"] == "component y (Holm, 20 claims)"
    together = judge_all([c(i, "x") for i in range(21)], ctx_with({**strong, **weak}))
    assert together[0]["family"] == "component x (Holm, 21 claims)" and together[0]["verdict"] == "inconclusive"


def test_rows_carry_what_a_verdict_is_recomputed_from():
    row = judge_all([claim()], ctx_with({"a": [89.99, 90.0, 90.01]}))[0]
    assert row["effect"] == pytest.approx(0.0, abs=1e-9) and row["region"]["delta"] == pytest.approx(0.05)
    ev = row["evidence"]
    assert ev["n"] == 3 and ev["sd"] == pytest.approx(0.01) and ev["interval_kind"] == "confidence"
    assert ev["ci90"][0] > row["region"]["low"] and row["verdict"] == "reproduced"


# --- components: status from the claims tagged with them ---

@pytest.mark.parametrize("verdicts, status", [
    ([], "not run"), (["not run"], "not run"), (["reproduced", "exceeded"], "reproduced"),
    (["reproduced", "inconclusive"], "partly reproduced"), (["inconclusive", "insufficient runs"], "inconclusive"),
    (["not reproduced", "inconclusive"], "not reproduced"), (["reproduced", "not reproduced"], "mixed"),
    (["invalid"], "invalid"), (["invalid", "not run"], "invalid"), (["invalid", "reproduced"], "reproduced"),
    (["invalid", "not reproduced", "inconclusive"], "not reproduced"),
])
def test_component_status_from_deciding_verdicts(verdicts, status):
    from harness.claims.components import status_of

    assert status_of(verdicts) == status


def test_a_rating_never_decides_a_component():
    from harness.claims.components import summarize_components

    rows = [{"component": "x", "kind": "rating", "verdict": "reproduced"}, {"component": "x", "kind": "transferred", "verdict": "not reproduced"},
            {"component": "y", "kind": "rating", "verdict": "reproduced"}]
    out = {c["component"]: c for c in summarize_components(rows, {"x": "X", "y": "Y"})}
    assert out["x"]["status"] == "not reproduced" and out["x"]["ratings"] == {"reproduced": 1}
    assert out["y"]["status"] == "ratings only"


def test_a_component_decided_by_counts_alone_reads_counts_only():
    from harness.claims.components import summarize_components

    rows = [{"component": "x", "kind": "count", "verdict": "reproduced"}, {"component": "x", "kind": "rating", "verdict": "reproduced"},
            {"component": "y", "kind": "count", "verdict": "reproduced"}, {"component": "y", "kind": "measurement", "verdict": "reproduced"}]
    out = {c["component"]: c for c in summarize_components(rows, {"x": "X", "y": "Y"})}
    assert out["x"]["status"] == "counts only" and out["x"]["deciding"] == {"reproduced": 1}
    assert out["y"]["status"] == "reproduced"


def test_published_text_is_kept_and_signs_do_not_count_as_digits():
    p = parse_published("-350", "x")
    assert (p.text, p.value, p.half_unit) == ("-350", -350.0, 5.0)


def test_an_equivalence_without_rounding_or_margin_is_exact_and_a_target_has_no_printed_digit():
    judge = JUDGES.get("equivalence")
    r = judge.region(judge.Config(kind="equivalence"), parse_published("0", "x"))
    assert r.delta_from == "half a unit of the printed last digit" and r.delta == 0.5
    r = judge.region(judge.Config(kind="equivalence", target=1.0), None)
    assert (r.low, r.high, r.delta, r.delta_from) == (1.0, 1.0, 0.0, "exact")
    r = judge.region(judge.Config(kind="equivalence", target=1.0, margin=0.25, reason="r"), None)
    assert (r.low, r.high, r.delta_from) == (0.75, 1.25, "stated margin")


def test_profiles_are_found_by_the_name_they_declare():
    from harness.claims.loading import known_profiles, profile_runs

    names = known_profiles(ROOT)
    assert names[0] == "smoke" and "paper-adalora-debertav3-base-sst2-b144" in names and len(names) == len(set(names))
    runs = profile_runs("paper-adalora-debertav3-base-sst2-b144", ROOT)
    assert runs["eval"] == {"lora_rank2", "adalora"} and runs["truncate"] == {"lora_rank2", "adalora"}
    smoke = profile_runs("smoke", ROOT)
    assert "icl" in smoke["causal_eval"] and "icl" not in smoke["causal_train"] and "high" in smoke["planted"]


def test_closest_names_or_the_known_ones():
    from harness.claims.loading import closest

    assert closest("lorra", ["lora", "full"]) == "closest: lora"
    assert closest("zzz", [f"r{i:02d}" for i in range(14)]) == "known: " + ", ".join(f"r{i:02d}" for i in range(12)) + " ..."
    assert closest("zzz", ["b", "a"]) == "known: a, b"


@pytest.mark.parametrize("content, expected", [
    (None, r"no claim files \(\*.yaml\)"), ("- [unclosed", "not valid YAML"), ("a: 1", "expected a list of claims"),
])
def test_claim_files_that_cannot_be_read(tmp_path, content, expected):
    if content is not None:
        (tmp_path / "x.yaml").write_text(content)
    with pytest.raises(HarnessError, match=expected):
        load_claims(tmp_path, ROOT)


def test_an_id_used_twice_and_an_unknown_component(tmp_path):
    raw = yaml.safe_load((CLAIMS / "lora.yaml").read_text())[:1]
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(raw))
    (tmp_path / "b.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(HarnessError, match=f"claim {raw[0]['id']}: id used twice"):
        load_claims(tmp_path, ROOT)
    (tmp_path / "b.yaml").unlink()
    raw[0]["component"] = "lorra"
    (tmp_path / "a.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(HarnessError, match=r"component: unknown 'lorra'; closest: lora, qlora, adalora \(experiments/components.yaml\)"):
        load_claims(tmp_path, ROOT)


def test_bound_settings_and_region_edges():
    from harness.claims.judges import BoundSettings, Region, fmt

    with pytest.raises(ValueError, match="set at_most, at_least or both"):
        BoundSettings(kind="bound")
    with pytest.raises(ValueError, match=r"at_least \(2.0\) is above at_most \(1.0\)"):
        BoundSettings(kind="bound", at_least=2.0, at_most=1.0)
    lower = Region(1.0, 2.0, better="lower")
    assert lower.beyond_better(0.5) and not lower.beyond_better(2.5) and not Region(1.0, 2.0).beyond_better(3.0)
    assert Region(1.0, 2.0, better="higher").beyond_better(2.5) and not Region(1.0, 2.0, better="higher").beyond_better(1.5)
    assert lower.contains(1.0) and lower.contains(2.0) and not lower.contains(2.01)
    assert Region(1.0, math.inf).text() == ">= 1" and Region(-math.inf, 2.5).text() == "<= 2.5" and lower.text() == "[1, 2]"
    assert fmt(1500.4) == "1,500" and fmt(-2500.0) == "-2,500" and fmt(0.123456) == "0.1235"


def test_exceeded_on_the_lower_side_and_p_text():
    from harness.claims.judges import Region, p_text
    from harness.claims.stats import evidence

    region = Region(1.0, 2.0, better="lower")
    assert classify(evidence([0.1, 0.2, 0.15], 1.0, 2.0), region).verdict == "exceeded"
    assert classify(evidence([3.1, 3.2, 3.15], 1.0, 2.0), region).verdict == "not reproduced"
    assert p_text(0.01, 0.01, None) == "p = 0.01" and p_text(0.01, 0.2, (0.2, 1.0)) == "p = 0.01, adjusted 0.2"


def test_a_claim_without_an_id_is_named_by_a_question_mark():
    with pytest.raises(HarnessError, match=r"^x.yaml: claim \?"):
        parse_claim({"statement": "s"}, "x.yaml")
    with pytest.raises(HarnessError, match=r"^x.yaml: claim \?: expected a mapping"):
        parse_claim(["not", "a", "mapping"], "x.yaml")


def test_exceeded_exact_and_one_sided_upper_detail():
    from harness.claims.judges import Region
    from harness.claims.stats import evidence

    assert classify(evidence([5.0], 1.0, 2.0, exact=True), Region(1.0, 2.0, better="higher")).verdict == "exceeded"
    v = classify(evidence([3.0, 3.1, 3.2], -math.inf, 2.0), Region(-math.inf, 2.0))
    assert v.verdict == "not reproduced" and v.detail.startswith(f"one-sided 95% bound {v.evidence.ci90[0]:.4g} outside <= 2")
    v = classify(evidence([0.0, 0.1, 0.2], -math.inf, 2.0), Region(-math.inf, 2.0))
    assert v.verdict == "reproduced" and v.detail.startswith(f"one-sided 95% bound {v.evidence.ci90[1]:.4g} inside <= 2")


def test_bound_edges_and_fmt_at_a_thousand():
    from harness.claims.judges import BoundSettings, fmt

    assert BoundSettings(kind="bound", at_least=1.0, at_most=1.0).at_most == 1.0  # a single accepted value is allowed
    with pytest.raises(ValueError, match=r"Value error, set at_most, at_least or both \["):
        BoundSettings(kind="bound")
    assert fmt(1000.0) == "1,000" and fmt(999.9) == "999.9"


def test_closest_edges():
    from harness.claims.loading import closest

    assert closest("zzz", [f"r{i:02d}" for i in range(12)]).endswith("r11")  # exactly 12 names: no ellipsis
    assert closest("zzz", [f"r{i:02d}" for i in range(13)]).endswith("r11 ...")
    assert closest("abcdef", ["abcxyz", "abcdxy", "abcdex", "abcdey", "zzzzzz"]) == "closest: abcdey, abcdex, abcdxy"  # at most 3
    assert closest("abcdef", ["abcxyz"]) == "closest: abcxyz"  # similarity 0.5 is close enough


def test_profiles_without_a_name_are_smoke_and_stages_tolerate_fewer_runs(tmp_path, monkeypatch, repo_params):
    from harness.claims.loading import known_profiles

    shutil.copytree(ROOT / "experiments", tmp_path / "experiments")
    raw = copy.deepcopy(repo_params)
    del raw["train"]["adalora_fixed"]
    del raw["profile"]
    (tmp_path / "params.yaml").write_text(yaml.safe_dump(raw))
    assert known_profiles(tmp_path)[0] == "smoke"
    with pytest.raises(HarnessError, match="profile smoke has no eval run 'adalora_fixed'"):
        load_claims(tmp_path / "experiments" / "claims", tmp_path)
    monkeypatch.chdir(tmp_path)  # the stages: default paths, runs not checked
    assert len(load_claims(check_runs=False)) == len(load_claims(CLAIMS, ROOT))


def test_claim_file_errors_name_the_file(tmp_path):
    (tmp_path / "x.yaml").write_text("- [unclosed")
    with pytest.raises(HarnessError, match=r"x.yaml: not valid YAML \(while parsing"):
        load_claims(tmp_path, ROOT)
    raw = yaml.safe_load((CLAIMS / "lora.yaml").read_text())[:1]
    raw[0]["judge"]["kind"] = "nope"
    (tmp_path / "x.yaml").write_text(yaml.safe_dump(raw))
    with pytest.raises(HarnessError, match=rf"^{tmp_path / 'x.yaml'}: claim {raw[0]['id']}: judge.kind: unknown"):
        load_claims(tmp_path, ROOT)


def test_the_same_pair_as_a_difference_and_a_ratio_is_two_measurements(tmp_path):
    def both(raw):
        base = next(c for c in raw if c["id"] == "lora.headline.memory-3x")
        raw.append({**base, "id": "lora.other", "judge": {"kind": "bound", "of": "difference", "at_least": 0}, "published": None,
                    "kind": "count"})
    assert len(load_claims(repo_claims_with(tmp_path, both), ROOT)) == len(load_claims(CLAIMS, ROOT)) + 1


def test_components_file_and_the_fields_a_row_carries(tmp_path):
    from harness.claims.components import load_components, summarize_components

    with pytest.raises(HarnessError, match="components.yaml: not found"):
        load_components(tmp_path / "components.yaml")
    (tmp_path / "components.yaml").write_text("")
    assert load_components(tmp_path / "components.yaml") == {}
    assert load_components(ROOT / "experiments" / "components.yaml")["lora"] == "LoRA (the baseline)"
    rows = [{"component": "x", "kind": "count", "verdict": "reproduced"}, {"component": "x", "kind": "measurement", "verdict": "reproduced"}]
    assert summarize_components(rows, {"x": "X"}) == [{"component": "x", "title": "X", "status": "reproduced",
                                                       "deciding": {"reproduced": 2}, "ratings": {}}]


def test_a_context_without_paperscale_and_a_profile_without_studies(tmp_path):
    import dataclasses

    from harness.claims.engine import load_context, pipeline_context
    from harness.core.config import load_params

    assert load_context(tmp_path, "smoke", ["a"]) == Context("smoke", {"a": {}}, None)
    params = dataclasses.replace(load_params(ROOT / "params.yaml"), planted=None, causal_raw=None)
    assert set(pipeline_context(params, tmp_path).runs) == set(params.train)


def test_a_causal_section_without_alignment_or_knowledge_runs_still_gives_its_runs(tmp_path):
    """The causal study alone (no SFT-then-DPO, no knowledge-update arms): its runs, the in-context row and the
    retrieved-demonstration rows are read; the absent sections add nothing."""
    from harness.causal.settings import causal_of
    from harness.claims.engine import pipeline_context
    from harness.core.config import parse_params, read_yaml, with_studies

    raw = with_studies(read_yaml(ROOT / "params.yaml"), ROOT / "params.yaml")
    align = raw["causal"].pop("align")
    knowledge = raw["causal"].pop("knowledge")
    params = parse_params(raw, "test")
    assert causal_of(params).align is None and causal_of(params).knowledge is None
    runs = set(pipeline_context(params, tmp_path).runs)
    assert {"icl", "lora_all", "base_rag", "lora_all_rag"} <= runs and set(params.train) <= runs
    assert not runs & (set(align.get("runs") or []) | set(knowledge.get("arms") or []))


def test_nested_measure_errors_name_their_place():
    bad_b = pair() | {"b": {"kind": "run", "run": "b", "field": "nope"}}
    with pytest.raises(HarnessError, match=r"^test.yaml: claim t.claim: measure.b: unknown field 'nope'"):
        relation(measure=bad_b)
    with pytest.raises(HarnessError, match=r"^test.yaml: claim t.claim: measure.kind: required key is missing"):
        claim(measure={"run": "a", "field": "metrics.accuracy"})


def test_one_sided_not_reproduced_shows_the_upper_bound_of_an_at_least():
    from harness.claims.judges import Region
    from harness.claims.stats import evidence

    v = classify(evidence([-3.0, -3.1, -3.2], 0.0, math.inf), Region(0.0, math.inf))
    assert v.verdict == "not reproduced" and v.detail.startswith(f"one-sided 95% bound {v.evidence.ci90[1]:.4g} outside >= 0")



def test_a_look_below_alpha_says_the_p_value_missed_its_level_not_that_the_interval_crosses():
    """At a sequential look's level (under 0.05) a claim can stay open with its 90% interval wholly outside the
    region: the detail then names the p-value and the look's level; "crosses" would contradict the interval printed."""
    from harness.claims.judges import Region
    from harness.claims.stats import evidence

    ev = evidence([-0.5, -2.3, -1.5, -0.8, -2.4], 0.0, math.inf)
    assert ev.ci90[1] < 0 and 0.00546 < ev.p_outside < 0.05
    assert classify(ev, Region(0.0, math.inf)).verdict == "not reproduced"  # at alpha it decides
    v = classify(ev, Region(0.0, math.inf), alpha=0.00546)
    assert v.verdict == "inconclusive" and v.detail == f"outside >= 0 at p = {ev.p_outside:.3g}, not under this look's level 0.00546"
    v = classify(ev, Region(0.0, math.inf), (1.0, 2 * ev.p_outside), alpha=0.00546)
    assert v.detail == f"outside >= 0 at p = {ev.p_outside:.3g} (adjusted {2 * ev.p_outside:.3g}), not under this look's level 0.00546"
    wide = evidence([-1.0, 1.5, -2.5, 0.5, -0.2], 0.0, math.inf)  # p over 0.05: the 90% interval does cross
    assert classify(wide, Region(0.0, math.inf), alpha=0.00546).detail.startswith("90% CI [")

# --- competence: every arm of a comparison must have learned (harness/claims/competence.py) ---

def arm(metric_values, validation, metric="accuracy", curve=False):
    """A run's eval record (one value per seed) and its validation figure: per-seed curves, or the tuning's one value."""
    seeds = {str(i): {"metrics": {metric: v}} for i, v in enumerate(metric_values)}
    record = {"eval": {"primary_metric": metric, "seeds": seeds},
              "tune": {"metric": metric, "chosen_lr": 1e-3, "seed": 0, "grid": [{"lr": 1e-3, "validation": validation[0]}]}}
    if curve:
        record["train"] = {"seeds": {str(i): {"val_curve": [[100, 0.0], [200, v]]} for i, v in enumerate(validation)}}
    return record


BALANCED = {"label_counts": {"validation": {"0": 510, "1": 490}}}  # majority 51%: the floor is 56


def test_an_arm_at_chance_voids_the_comparison_and_is_named():
    c = relation()
    learned = Context("smoke", {"a": arm([80.0, 81.0, 82.0], [80.0]), "b": arm([70.0, 71.0, 72.5], [60.0])}, None, prepared=BALANCED)
    assert judge_claim(c, learned).verdict == "reproduced"
    chance = Context("smoke", {"a": arm([80.0, 81.0, 82.0], [80.0]), "b": arm([70.0, 71.0, 72.5], [52.0])}, None, prepared=BALANCED)
    v = judge_claim(c, chance)
    assert v.verdict == "invalid" and v.detail.startswith("invalid: b did not learn (validation accuracy 52 (tuning, seed 0 at the chosen lr) < 56")
    assert "the constant predictor's 51 + margin 5" in v.detail
    alone = claim(measure={"kind": "run", "run": "b", "field": "metrics.accuracy"})  # one run is not a comparison
    assert judge_claim(alone, chance).verdict == "not reproduced"


def test_an_arm_whose_profile_has_not_run_is_skipped_and_the_others_still_checked():
    """compared_arms: an arm in a profile with no results here is not checked (its claim reads "not run"), and the
    arms after it, in (profile, run) order, still are."""
    from harness.claims.competence import compared_arms

    c = relation(measure={"kind": "pair", "a": {"kind": "run", "run": "a", "field": "metrics.accuracy", "profile": "absent"},
                          "b": {"kind": "run", "run": "b", "field": "metrics.accuracy"}})
    ctx = Context("smoke", {"b": arm([80.0] * 3, [80.0])}, None, prepared=BALANCED)
    assert [(run, where.profile) for run, where in compared_arms(c.measure, ctx)] == [("b", "smoke")]


def test_the_check_reads_the_lower_bound_over_seeds_and_a_correlation_floor():
    from harness.claims.competence import check_arm, load_competence

    spec = load_competence(ROOT / "experiments" / "competence.yaml")
    noisy = Context("smoke", {"r": arm([70.0] * 3, [90.0, 30.0, 60.0], curve=True)}, None, prepared=BALANCED)
    verdict = check_arm("r", noisy, spec)  # mean 60 >= 56, but its lower bound is far below: not shown to have learned
    assert not verdict.learned and "last validation point of 3 seeds" in verdict.figure
    steady = Context("smoke", {"r": arm([70.0] * 3, [60.0, 61.0, 60.5], curve=True)}, None, prepared=BALANCED)
    assert check_arm("r", steady, spec).learned
    stsb = Context("smoke", {"r": arm([12.0] * 3, [25.1, 1.5, 12.9], metric="pearson", curve=True)}, None)
    assert not check_arm("r", stsb, spec).learned  # LoRA on STS-B: a regression head that never fit (no labels needed)
    assert check_arm("r", Context("smoke", {"r": arm([80.0] * 3, [80.0, 81.0, 79.0], metric="pearson", curve=True)}, None), spec).learned
    assert check_arm("r", Context("smoke", {"r": arm([0.0] * 3, [0.0], metric="matthews")}, None), spec).learned is False


def test_the_trained_models_whole_validation_score_is_read_first_and_checks_a_run_without_tuning():
    """Each seed's ``final_validation`` (the train stage scores every run on the whole validation split, k-NN too) is
    the figure; the curve and the tuning are read only for results that lack it."""
    from harness.claims.competence import check_arm, load_competence

    spec = load_competence(ROOT / "experiments" / "competence.yaml")
    knn = {"eval": {"primary_metric": "accuracy", "seeds": {"0": {"metrics": {"accuracy": 52.0}}}},
           "train": {"seeds": {str(i): {"final_validation": {"accuracy": v}, "val_curve": []} for i, v in enumerate([52.0, 51.0, 53.0])}}}
    verdict = check_arm("knn", Context("smoke", {"knn": knn}, None, prepared=BALANCED), spec)
    assert not verdict.learned and "the trained model on the validation split, 3 seeds" in verdict.figure
    record = arm([70.0] * 3, [90.0, 30.0, 60.0], curve=True)  # its curve alone would fail it (see above)
    for i, v in enumerate([70.0, 71.0, 69.5]):
        record["train"]["seeds"][str(i)]["final_validation"] = {"accuracy": v}
    assert check_arm("r", Context("smoke", {"r": record}, None, prepared=BALANCED), spec).learned


def test_a_comparison_of_a_run_left_on_its_grid_edge_says_so():
    from harness.claims.engine import judge_all

    c = relation()
    runs = {"a": arm([80.0, 81.0, 82.0], [80.0]), "b": arm([70.0, 71.0, 72.5], [60.0])}
    assert judge_all([c], Context("smoke", runs, None, prepared=BALANCED))[0]["grid_edge"] == []
    runs["b"]["tune"]["grid_edge"] = "top"
    row = judge_all([c], Context("smoke", runs, None, prepared=BALANCED))[0]
    assert row["grid_edge"] == ["b (top)"] and row["verdict"] == "reproduced"


def test_every_registered_metric_has_a_competence_rule():
    from harness.claims.competence import load_competence
    from harness.core.registry import METRICS

    assert set(load_competence(ROOT / "experiments" / "competence.yaml").metrics) == set(METRICS.names())


def _comparisons():
    from harness.claims.competence import QUALITY_FILES

    return [c for c in load_claims(CLAIMS, ROOT) if sides(c.measure) and any(
        leaf.kind == "run" and leaf.file in QUALITY_FILES and leaf.field.startswith("metrics.") for leaf in leaves(c.measure))]


@pytest.mark.parametrize("c", _comparisons(), ids=lambda c: c.id)
def test_every_comparison_claim_is_invalid_with_a_planted_arm_that_did_not_learn(c):
    """Each repository claim that compares runs' quality, with every arm's records present: one arm planted at the
    constant predictor's validation score makes it invalid, naming that arm; with every arm learned it is not."""
    from harness.claims.competence import constant_score, load_competence

    spec = load_competence(ROOT / "experiments" / "competence.yaml")
    sides = [leaf for leaf in leaves(c.measure) if leaf.kind == "run"]
    quality = [leaf for leaf in sides if leaf.file in ("eval", "train") and leaf.field.startswith("metrics.")]

    def context(planted):
        profiles: dict[str, dict] = {}
        for i, leaf in enumerate(sides):
            metric = leaf.field.split(".", 1)[1] if leaf.field.startswith("metrics.") else "accuracy"
            record = profiles.setdefault(leaf.profile, {}).setdefault(leaf.run, {})
            seeds = record.setdefault(leaf.file, {"primary_metric": metric, "seeds": {}})["seeds"]
            for s in range(3):
                node = seeds.setdefault(str(s), {})
                *path, last = leaf.field.split(".")
                for key in path:
                    node = node.setdefault(key, {})
                node[last] = 50.0 + 10 * i + s
            rule = spec.metrics[metric]
            validation = constant_score(metric, rule, BALANCED["label_counts"]["validation"]) + (rule.margin / 2 if leaf.run == planted else 40.0)
            record["tune"] = {"metric": metric, "chosen_lr": 1e-3, "seed": 0, "grid": [{"lr": 1e-3, "validation": validation}]}
        ctxs = {p: Context(p, runs, None, prepared=BALANCED) for p, runs in profiles.items()}
        main = ctxs.pop("smoke", Context("smoke", {}, None, prepared=BALANCED))
        return dataclasses.replace(main, profiles=ctxs)

    assert judge_claim(c, context(planted=None)).verdict != "invalid"
    v = judge_claim(c, context(planted=quality[0].run))
    assert v.verdict == "invalid" and f"{quality[0].run} did not learn" in v.detail  # named with its profile if not the claim's


def test_bootstrap_evidence_p_values_are_replicate_shares_on_the_wrong_side():
    """p-values from a bootstrap distribution (the suite claims'): (k + 1) / (B + 1) with k the replicates on the
    wrong side of a bound, ties counted as wrong; inside a band = the larger of its two one-sided shares (TOST),
    outside = the nearer bound's opposite share, doubled for a band; one-sided regions use their finite bound."""
    from harness.claims.judges import bootstrap_evidence

    x = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]  # B = 9: shares are (k + 1) / 10
    at_least = bootstrap_evidence(0.55, x, 0.3, math.inf, 4)
    assert (at_least.p_inside, at_least.p_outside) == (pytest.approx(0.4), pytest.approx(0.8))  # k(x <= .3) = 3, k(x >= .3) = 7
    assert at_least.n == 4 and at_least.mean == 0.55 and at_least.interval_kind == "bootstrap"
    at_most = bootstrap_evidence(0.55, x, -math.inf, 0.7, 4)
    assert (at_most.p_inside, at_most.p_outside) == (pytest.approx(0.4), pytest.approx(0.8))  # k(x >= .7) = 3, k(x <= .7) = 7
    low_side = bootstrap_evidence(0.3, x, 0.8, 0.95, 4)  # nearer the low end: outside = 2 * share(x >= .8), .8 included
    assert (low_side.p_inside, low_side.p_outside) == (pytest.approx(0.9), pytest.approx(0.6))
    high_side = bootstrap_evidence(0.6, x, 0.05, 0.2, 4)  # nearer the high end: outside = 2 * share(x <= .2), .2 included
    assert (high_side.p_inside, high_side.p_outside) == (pytest.approx(0.9), pytest.approx(0.6))
    midway = bootstrap_evidence(0.5, [0.0] * 8 + [0.9], 0.25, 0.75, 4)  # equally near both ends (exactly): the low end's share
    assert midway.p_outside == pytest.approx(0.4)  # 2 * share(x >= .25); the high end's would be 2 * 0.9, capped at 1
    inside_band = bootstrap_evidence(0.5, [0.3] * 9, 0.25, 0.75, 4)  # doubled, a share of 1 is capped at 1
    assert inside_band.p_outside == 1.0 and inside_band.p_inside == pytest.approx(0.1)
    tie = bootstrap_evidence(0.5, [0.5] * 9, 0.5, math.inf, 4)  # every replicate on the bound counts as wrong
    assert tie.p_inside == pytest.approx(1.0) and tie.p_outside == pytest.approx(1.0)
    assert at_least.ci90 == pytest.approx(tuple(np.quantile(x, [0.05, 0.95]))) and at_least.ci95 == pytest.approx(tuple(np.quantile(x, [0.025, 0.975])))


def test_the_constant_predictor_scores_and_the_validation_figures_each_run_offers():
    """The floor's constant: 0 for a coefficient; the majority class's accuracy; for F1 the positive class predicted
    everywhere (2p / (1 + p)); unknown without label counts. The figure: each seed's final validation score in seed
    order, else each seed's last curve point, else the tuning's score at the chosen lr (one value), else none."""
    from harness.claims.competence import MetricRule, constant_score, validation_scores

    majority, zero = MetricRule(constant="majority", margin=1.0, reason="r"), MetricRule(constant="zero", margin=0.1, reason="r")
    counts = {"0": 30, "1": 10}
    assert constant_score("pearson", zero, None) == 0.0
    assert constant_score("accuracy", majority, counts) == 75.0 and constant_score("accuracy", majority, None) is None
    assert constant_score("f1", majority, counts) == pytest.approx(100 * 2 * 0.25 / 1.25)
    assert constant_score("f1", majority, {"0": 40}) == 0.0  # no positive example: F1 0
    seeds = {"10": {"final_validation": {"accuracy": 70.0}, "val_curve": [[5, 60.0], [8, 63.0], [10, 65.0]]},
             "2": {"final_validation": {"accuracy": 80.0}, "val_curve": [[5, 61.0], [10, 66.0]]}}
    assert validation_scores({"train": {"seeds": seeds}}, "accuracy") == ([80.0, 70.0], "the trained model on the validation split, 2 seeds")
    curves = {s: {"val_curve": v["val_curve"]} for s, v in seeds.items()}
    assert validation_scores({"train": {"seeds": curves}}, "accuracy") == ([66.0, 65.0], "last validation point of 2 seeds")
    tune = {"seed": 3, "chosen_lr": 0.01, "grid": [{"lr": 0.001, "validation": 50.0}, {"lr": 0.01, "validation": 77.0}]}
    assert validation_scores({"train": {"seeds": {"0": {}}}, "tune": tune}, "accuracy") == ([77.0], "tuning, seed 3 at the chosen lr")
    assert validation_scores({"tune": {k: v for k, v in tune.items() if k != "seed"}}, "accuracy") == ([77.0], "tuning, seed 0 at the chosen lr")
    assert validation_scores({"tune": {**tune, "grid": [{"lr": 0.01, "validation": None}]}}, "accuracy") is None  # diverged
    assert validation_scores({"tune": {**tune, "chosen_lr": 0.1}}, "accuracy") is None and validation_scores({}, "accuracy") is None


def test_an_arm_is_checked_on_its_own_metric_and_reads_its_bound_against_the_floor():
    from harness.claims.competence import CompetenceSpec, MetricRule, check_arm

    spec = CompetenceSpec(metrics={"accuracy": MetricRule(constant="majority", margin=5.0, reason="r")})

    def ctx(values, metric="accuracy", where="tune", counts=None):
        run = {"train": {"seeds": {str(i): {"final_validation": {metric: v}} for i, v in enumerate(values)}},
               where: {"metric" if where == "tune" else "primary_metric": metric}}
        return Context("p", {"r": run}, None, prepared={"label_counts": {"validation": counts or {"0": 60, "1": 40}}})

    one = check_arm("r", ctx([65.0]), spec)
    assert one.run == "r" and one.learned and one.figure == (
        "validation accuracy 65 (the trained model on the validation split, 1 seeds) >= 65: the constant predictor's 60 + margin 5")
    assert not check_arm("r", ctx([64.9]), spec).learned and " < 65: " in check_arm("r", ctx([64.9]), spec).figure
    spread = check_arm("r", ctx([70.0, 80.0, 90.0], where="eval"), spec)  # the metric from the eval record when untuned
    assert not spread.learned and spread.figure.startswith("validation accuracy 80, one-sided 95% lower bound 63.14 (")  # 80 - 2.92*10/sqrt(3) < 65
    assert check_arm("absent", ctx([65.0]), spec) is None
    assert check_arm("r", Context("p", {"r": {"train": {"seeds": {"0": {"final_validation": {"accuracy": 1.0}}}}}}, None), spec) is None  # no metric
    with pytest.raises(HarnessError, match=r"experiments/competence.yaml: metrics: no rule for 'f1' \(run r\); rules: accuracy$"):
        check_arm("r", ctx([65.0], metric="f1"), spec)
    two = CompetenceSpec(metrics={**spec.metrics, "pearson": MetricRule(constant="zero", margin=30.0, reason="r")})
    with pytest.raises(HarnessError, match=r"no rule for 'f1' \(run r\); rules: accuracy, pearson$"):
        check_arm("r", ctx([65.0], metric="f1"), two)
    no_figure = Context("p", {"r": {"eval": {"primary_metric": "accuracy"}}}, None, prepared={"label_counts": {"validation": {"0": 6, "1": 4}}})
    assert check_arm("r", no_figure, spec) is None  # a metric and a floor, but no validation figure to hold against it


def test_a_suite_measure_names_its_empty_task_list_and_the_task_at_fault():
    def suite(tasks):
        return claim(kind="transferred", scale="smoke", published=None, judge={"kind": "bound", "at_least": 0.5},
                     measure={"kind": "suite", "of": "probability_of_improvement", "tasks": tasks})

    with pytest.raises(HarnessError, match=r"^test\.yaml: claim t\.claim: measure\.tasks: a suite needs at least one task$"):
        suite([])
    with pytest.raises(HarnessError, match=r"^test\.yaml: claim t\.claim: measure\.tasks\[0\]\.b: required key is missing$"):
        suite([{"a": {"kind": "run", "run": "a", "field": "metrics.accuracy"}}])
