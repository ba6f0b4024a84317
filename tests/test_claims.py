"""The verdict engine on hand-made results, claim validation, and the CI regression gate."""

import math
from pathlib import Path

import pytest
import yaml

from harness.check import compare
from harness.claims import load_claims, parse_claim
from harness.claims.engine import judge_all, judge_claim
from harness.claims.measures import Context
from harness.errors import HarnessError
from tests.conftest import ROOT


def ctx_with(runs: dict[str, list[float]], paperscale=None, field="accuracy") -> Context:
    """Eval results per run: one accuracy per seed (seed i -> value i)."""
    loaded = {run: {"eval": {"seeds": {str(i): {"metrics": {field: v}} for i, v in enumerate(values)}}} for run, values in runs.items()}
    return Context(results=Path("results"), profile="smoke", runs=loaded, paperscale=paperscale)


def claim(**over):
    raw = {
        "id": "t.claim", "statement": "s", "source": {"paper": "P", "table": "T1"}, "scale": "smoke",
        "published": 90.0, "measure": {"kind": "run", "run": "a", "field": "metrics.accuracy"},
        "judge": {"kind": "epsilon", "epsilon": 1.0},
    }
    raw.update(over)
    return parse_claim(raw, "test.yaml")


def pair(a="a", b="b"):
    return {"kind": "pair", "a": {"kind": "run", "run": a, "field": "metrics.accuracy"}, "b": {"kind": "run", "run": b, "field": "metrics.accuracy"}}


def test_epsilon_reproduced_not_and_above_paper():
    assert judge_claim(claim(), ctx_with({"a": [89.5, 89.6, 89.7]})).verdict == "reproduced"
    assert judge_claim(claim(), ctx_with({"a": [95.0, 95.2, 95.1]})).verdict == "reproduced"  # above the paper counts
    assert judge_claim(claim(), ctx_with({"a": [80.0, 80.5, 81.0]})).verdict == "not reproduced"


def test_tie_on_the_threshold_is_reproduced():
    # zero spread: the interval collapses to the mean, which sits exactly at published - epsilon
    assert judge_claim(claim(), ctx_with({"a": [89.0, 89.0, 89.0]})).verdict == "reproduced"


def test_straddling_interval_is_inconclusive_with_seed_estimate():
    v = judge_claim(claim(), ctx_with({"a": [87.0, 90.0, 91.0]}))
    assert v.verdict == "inconclusive"
    assert v.more_seeds is not None and v.more_seeds >= 1


def test_one_seed_is_inconclusive():
    v = judge_claim(claim(), ctx_with({"a": [95.0]}))
    assert v.verdict == "inconclusive" and "at least 2 seeds" in v.detail


def test_nan_metric_is_not_reproduced_not_a_crash():
    v = judge_claim(claim(), ctx_with({"a": [95.0, math.nan, 94.0]}))
    assert v.verdict == "not reproduced" and "non-finite" in v.detail


def test_missing_results_are_not_run_with_reason():
    v = judge_claim(claim(requires=["gpu"]), ctx_with({}))
    assert v.verdict == "not run" and v.detail == "needs gpu: no eval results for run 'a' in this profile"
    v = judge_claim(claim(measure={"kind": "run", "run": "a", "field": "metrics.accuracy", "profile": "paper-x"}), ctx_with({"a": [1.0, 2.0]}))
    assert v.verdict == "not run" and "needs profile paper-x" in v.detail
    v = judge_claim(claim(measure={"kind": "paperscale", "key": "k", "field": "f"}, judge={"kind": "exact"}), ctx_with({}))
    assert v.verdict == "not run" and "paperscale" in v.detail


def test_relation_pairs_seeds():
    c = claim(measure=pair(), judge={"kind": "relation", "relation": "at_least", "margin": 0.0}, published=None)
    # a beats b by exactly 1 on every seed although the spread across seeds is large
    assert judge_claim(c, ctx_with({"a": [80.0, 90.0, 85.0], "b": [79.0, 89.0, 84.0]})).verdict == "reproduced"
    assert judge_claim(c, ctx_with({"a": [70.0, 71.0, 72.0], "b": [79.0, 89.0, 84.0]})).verdict == "not reproduced"
    within = claim(measure=pair(), judge={"kind": "relation", "relation": "within", "margin": 0.5}, published=None)
    assert judge_claim(within, ctx_with({"a": [80.0, 90.0, 85.0], "b": [79.0, 89.0, 84.0]})).verdict == "not reproduced"


def test_exact_ratio_and_bound_on_paperscale_counts():
    ps = {"m.lora": {"trainable_params": 294912, "base_params": 124645632}}
    exact = claim(published=294912, measure={"kind": "paperscale", "key": "m.lora", "field": "trainable_params"}, judge={"kind": "exact"})
    assert judge_claim(exact, ctx_with({}, ps)).verdict == "reproduced"
    off_by_one = claim(published=294913, measure={"kind": "paperscale", "key": "m.lora", "field": "trainable_params"}, judge={"kind": "exact"})
    assert judge_claim(off_by_one, ctx_with({}, ps)).verdict == "not reproduced"
    ratio = claim(published=None, judge={"kind": "ratio", "at_least": 400}, measure={
        "kind": "pair", "a": {"kind": "paperscale", "key": "m.lora", "field": "base_params"}, "b": {"kind": "paperscale", "key": "m.lora", "field": "trainable_params"}})
    assert judge_claim(ratio, ctx_with({}, ps)).verdict == "reproduced"  # 422.6x
    bound = claim(published=None, judge={"kind": "bound", "at_most": 290000}, measure={"kind": "paperscale", "key": "m.lora", "field": "trainable_params"})
    assert judge_claim(bound, ctx_with({}, ps)).verdict == "not reproduced"


@pytest.mark.parametrize(
    "change, expected",
    [
        ({"measure": {"kind": "run", "run": "a", "field": "metrics.acc"}}, "claim t.claim: measure: unknown metric 'acc'"),
        ({"measure": {"kind": "run", "run": "a", "field": "accuracy"}}, "claim t.claim: measure: unknown field 'accuracy' in eval results"),
        ({"judge": {"kind": "roughly"}}, "claim t.claim: judge.kind: unknown judge kind 'roughly'; known: band, bound, epsilon, exact, ratio, relation"),
        ({"judge": {"kind": "relation", "relation": "about"}, "measure": pair()}, "claim t.claim: judge: relation must be one of at_least, within"),
        ({"source": None}, "claim t.claim.source"),
        ({"published": None}, "claim t.claim: published: required by judge 'epsilon'"),
        ({"judge": {"kind": "ratio", "at_least": 2}}, "claim t.claim: measure.kind: judge 'ratio' needs a pair measure"),
    ],
)
def test_malformed_claims_name_id_and_field(change, expected):
    with pytest.raises(HarnessError) as err:
        claim(**change)
    assert expected in str(err.value)


def test_repo_claims_cover_the_reference():
    claims = load_claims(ROOT / "experiments" / "claims")
    ids = {c.id for c in claims}
    for prefix in ("lora.headline.", "lora.t1.", "lora.t2.", "lora.t3.", "adalora.t1.", "adalora.t5.", "qlora.", "loraplus.", "bitfit.", "dylora.", "seed."):
        assert any(i.startswith(prefix) for i in ids), prefix
    expected = yaml.safe_load((ROOT / "experiments" / "expected_verdicts.yaml").read_text())
    assert set(expected) == {c.id for c in claims if c.gate}, "every gated claim has an expected verdict, no stale ones"


def test_check_flags_regressions_only():
    worse, better = compare({"a": "reproduced", "b": "inconclusive", "c": "not run"}, {"a": "inconclusive", "b": "reproduced"})
    assert worse == ["a: expected reproduced, got inconclusive", "c: expected not run, missing from the results"]
    assert better == ["b: expected inconclusive, got reproduced"]


def test_broken_lora_targets_fail_the_check(tmp_path):
    """LoRA applied to one module fewer (Wq only): the exact-count claim regresses and check names it."""
    from harness.stages.paperscale import count

    spec = yaml.safe_load((ROOT / "experiments" / "paperscale.yaml").read_text())
    broken = {"roberta-base.lora-r8-qv": count(spec["architectures"]["roberta-base"], {"method": "lora", "r": 8, "target_modules": ["query"]}, "test")}
    claims = [c for c in load_claims(ROOT / "experiments" / "claims") if c.id == "lora.t2.roberta-base.params"]
    fresh = {r["id"]: r["verdict"] for r in judge_all(claims, ctx_with({}, broken))}
    expected = yaml.safe_load((ROOT / "experiments" / "expected_verdicts.yaml").read_text())
    worse, _ = compare({"lora.t2.roberta-base.params": expected["lora.t2.roberta-base.params"]}, fresh)
    assert worse == ["lora.t2.roberta-base.params: expected reproduced, got not reproduced"]
