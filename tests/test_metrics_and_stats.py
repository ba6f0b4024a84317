"""Metrics against their reference libraries, and the statistics behind every verdict against statsmodels."""

import math

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from scipy import stats as sst
from sklearn import metrics as skm
from statsmodels.stats.multitest import multipletests
from statsmodels.stats.weightstats import DescrStatsW

from harness.claims.judges import Region, classify
from harness.claims.stats import adjust, evidence, seeds_needed, summarize
from harness.core.registry import METRICS


def test_metrics_on_hand_computed_cases():
    preds, labels = np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])
    assert METRICS.get("accuracy")(preds, labels) == 50.0
    # tp=2 fp=1 fn=1 -> precision = recall = 2/3 -> F1 2/3
    assert METRICS.get("f1")(preds, labels) == pytest.approx(200 / 3)
    # tp=2 tn=0 fp=1 fn=1: (2*0 - 1*1) / sqrt(3*3*1*1) = -1/3
    assert METRICS.get("matthews")(preds, labels) == pytest.approx(-100 / 3)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert METRICS.get("pearson")(2 * x + 1, x) == pytest.approx(100.0)
    assert METRICS.get("spearman")(x**3, x) == pytest.approx(100.0)


binary = st.lists(st.integers(0, 1), min_size=4, max_size=40)


@settings(max_examples=60, deadline=None)
@given(binary, binary)
def test_classification_metrics_match_sklearn_on_random_inputs(a, b):
    n = min(len(a), len(b))
    preds, labels = np.array(a[:n]), np.array(b[:n])
    assert METRICS.get("accuracy")(preds, labels) == pytest.approx(100 * skm.accuracy_score(labels, preds))
    assert METRICS.get("f1")(preds, labels) == pytest.approx(100 * skm.f1_score(labels, preds, zero_division=0))
    assert METRICS.get("matthews")(preds, labels) == pytest.approx(100 * skm.matthews_corrcoef(labels, preds))
    # precision and recall swap with the arguments; binary F1 = 2TP / (2TP + FP + FN) does not (see the mutation report)
    if (preds == 1).any() and (labels == 1).any():
        assert 100 * skm.precision_score(labels, preds) == pytest.approx(100 * skm.recall_score(preds, labels))


@settings(max_examples=40, deadline=None)
@given(st.lists(st.floats(-100, 100, allow_nan=False), min_size=3, max_size=30).filter(lambda v: len(set(v)) > 2))
def test_correlations_match_scipy(x):
    y = np.array(x) ** 3 - 2 * np.array(x) + np.arange(len(x))
    if np.std(y) == 0:
        return
    assert METRICS.get("pearson")(y, np.array(x)) == pytest.approx(100 * sst.pearsonr(y, x)[0], abs=1e-6)
    assert METRICS.get("spearman")(y, np.array(x)) == pytest.approx(100 * sst.spearmanr(y, x)[0], abs=1e-6)


def test_summarize_interval():
    s = summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 3
    # t(0.975, 2) = 4.3027
    assert s["ci_high"] - 2.0 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)


def test_summarize_one_seed_and_nan():
    assert summarize([5.0]) == {"mean": 5.0, "std": None, "n": 1, "ci_low": None, "ci_high": None}
    assert summarize([float("nan"), 1.0, 3.0])["n"] == 2
    assert summarize([])["mean"] is None


@pytest.mark.parametrize("values, low, high", [
    ([95.2, 95.4, 95.1, 95.6], 95.0, 95.8), ([1.0, 2.0, 3.5], 0.0, 4.0), ([0.1, 0.3, -0.2, 0.05, 0.0], -0.5, 0.5),
])
def test_two_sided_region_is_tost_and_its_90_interval(values, low, high):
    ev = evidence(values, low, high)
    p_tost = DescrStatsW(np.array(values)).ttost_mean(low, high)[0]
    assert ev.p_inside == pytest.approx(p_tost)
    lo, hi = DescrStatsW(np.array(values)).tconfint_mean(alpha=0.10)
    assert ev.ci90 == (pytest.approx(lo), pytest.approx(hi))
    assert (ev.p_inside < 0.05) == (low < lo and hi < high)


@pytest.mark.parametrize("values, low", [([1.0, 1.2, 0.9], 0.0), ([0.1, -0.3, 0.4, 0.2], 0.0), ([-1.0, -1.1, -0.8], 0.0)])
def test_one_sided_region_is_the_one_sided_t_test(values, low):
    ev = evidence(values, low, math.inf)
    d = DescrStatsW(np.array(values))
    assert ev.p_inside == pytest.approx(d.ttest_mean(low, alternative="larger")[1])
    assert ev.p_outside == pytest.approx(d.ttest_mean(low, alternative="smaller")[1])


def test_two_sided_outside_is_the_95_interval():
    values = [97.0, 97.2, 96.9]
    ev = evidence(values, 95.0, 96.0)
    lo, hi = DescrStatsW(np.array(values)).tconfint_mean(alpha=0.05)
    assert ev.ci95 == (pytest.approx(lo), pytest.approx(hi)) and (ev.p_outside < 0.05) == (lo > 96.0)


def test_seeds_needed_takes_the_quantile_at_the_larger_n():
    ev = evidence([0.5, 1.5, -0.2], 0.0, math.inf)  # mean 0.6, inside, not yet decided at n = 3
    n, side = seeds_needed(ev, 0.0, math.inf)
    assert side == "inside"

    def decided(k):
        return sst.t.sf(ev.mean / (ev.sd / math.sqrt(k)), k - 1) < 0.05
    assert decided(n) and not decided(n - 1)
    # keeping t at its n = 3 value (4.30, as a fixed-quantile shortcut does) asks for several times more seeds
    t3 = sst.t.ppf(0.95, 2)
    assert math.ceil((t3 * ev.sd / ev.mean) ** 2) > 2 * n


def test_seeds_needed_says_which_way_a_wrong_side_mean_would_decide():
    ev = evidence([-0.5, 0.4, -0.6], 0.0, math.inf)
    assert seeds_needed(ev, 0.0, math.inf)[1] == "outside"
    assert seeds_needed(evidence([-1.0, 1.0, 0.0], 0.0, math.inf), 0.0, math.inf) is None  # the mean sits on the boundary


def test_adjust_is_statsmodels_multipletests():
    p = [0.01, 0.04, 0.03, 0.2]
    assert adjust(p, "holm") == pytest.approx(list(multipletests(p, method="holm")[1]))
    assert adjust(p, "fdr_bh") == pytest.approx(list(multipletests(p, method="fdr_bh")[1]))
    assert adjust([], "holm") == []


# --- properties of the decision rule ---

MATCH = {"reproduced": 2, "inconclusive": 1, "not reproduced": 0}


@settings(max_examples=80, deadline=None)
@given(st.floats(0.01, 5), st.floats(0.05, 2), st.floats(0, 10), st.floats(0, 10))
def test_a_verdict_never_improves_as_the_estimate_moves_away(delta, spread, near, extra):
    region = Region(-delta, delta)
    base = [-spread, 0.0, spread]
    ranks = [MATCH[classify(evidence([x + shift for x in base], -delta, delta), region).verdict] for shift in (near, near + extra)]
    assert ranks[1] <= ranks[0]


@settings(max_examples=60, deadline=None)
@given(st.floats(0.01, 10), st.integers(2, 30), st.integers(1, 30))
def test_the_interval_narrows_as_n_grows_with_the_same_spread(sd, n, more):
    def sample(k):
        z = np.linspace(-1, 1, k)
        return list(z / z.std(ddof=1) * sd)
    small, large = evidence(sample(n), -1, 1), evidence(sample(n + more), -1, 1)
    assert (large.ci95[1] - large.ci95[0]) < (small.ci95[1] - small.ci95[0])


@settings(max_examples=80, deadline=None)
@given(st.floats(-100, 100), st.floats(0.1, 50), st.booleans())
def test_every_region_has_inputs_on_both_sides(low, width, exact):
    region = Region(low, low + width)

    def verdict(x, eps):
        return classify(evidence([x] if exact else [x - eps, x, x + eps], region.low, region.high, exact=exact), region).verdict
    assert verdict(low + width / 2, width / 40) == "reproduced"
    assert verdict(low - width, width / 40) == "not reproduced"
    assert verdict(low + 2 * width, width / 40) == "not reproduced"


def test_summarize_of_nothing_is_all_none():
    assert summarize([]) == {"mean": None, "std": None, "n": 0, "ci_low": None, "ci_high": None}


def test_p_outside_doubles_for_a_two_sided_region_and_uses_the_nearer_boundary():
    from harness.claims.stats import region_p_values

    d = DescrStatsW(np.array([2.9, 3.1, 3.3]))
    _, p_out = region_p_values(d.mean, d.std * math.sqrt(3 / 2), 3, 0.0, 2.0)  # nearer the upper boundary
    assert p_out == pytest.approx(2 * d.ttest_mean(2.0, alternative="larger")[1])
    _, p_out = region_p_values(d.mean, d.std * math.sqrt(3 / 2), 3, -math.inf, 2.0)
    assert p_out == pytest.approx(d.ttest_mean(2.0, alternative="larger")[1])
    _, p_out = region_p_values(-d.mean, d.std * math.sqrt(3 / 2), 3, -2.0, 10.0)  # nearer the lower one
    assert p_out == pytest.approx(2 * d.ttest_mean(2.0, alternative="larger")[1])
    assert region_p_values(0.0, 5.0, 3, -0.1, 0.1)[1] == 1.0  # capped: p-values are probabilities


def test_seeds_needed_bounds():
    ev = evidence([0.9, 1.1, 1.0, 0.2], 0.0, math.inf)  # decided at n = 4 already would not be asked; one more seed decides
    n, _ = seeds_needed(ev, 0.5, math.inf)
    assert n >= ev.n + 1
    assert seeds_needed(evidence([0.5, 0.4, 0.6], 0.0, math.inf), 0.5, math.inf) is None  # the mean sits on the boundary
    assert seeds_needed(evidence([1.0, 3.0, -1.0], 0.0, math.inf), 0.999, math.inf) is None  # no n <= 1000 decides
    assert seeds_needed(evidence([1.0], 0.0, math.inf), 0.0, math.inf) is None  # no spread known
    near = evidence([0.95, 1.05, 1.0], 0.0, 1.2)  # inside; a mean 0.2 from the upper boundary
    assert seeds_needed(near, 0.0, 1.02)[1] == "inside"


def test_summarize_interval_scales_with_the_spread():
    s = summarize([1.0, 3.0, 8.0])
    half = sst.t.ppf(0.975, 2) * s["std"] / math.sqrt(3)
    assert s["std"] == pytest.approx(np.std([1.0, 3.0, 8.0], ddof=1))
    assert (s["ci_low"], s["ci_high"]) == (pytest.approx(4.0 - half), pytest.approx(4.0 + half))


def test_evidence_without_an_interval_says_why():
    from harness.claims.stats import Evidence

    assert evidence([5.0], 0.0, 1.0) == Evidence(1, 5.0, None, "none", None, None, None, None)
    assert evidence([2.0, 2.0], 0.0, 1.0) == Evidence(2, 2.0, 0.0, "zero spread", (2.0, 2.0), (2.0, 2.0), None, None)
    assert evidence([7], 0.0, 1.0, exact=True) == Evidence(1, 7.0, None, "exact", None, None, None, None)
    assert seeds_needed(evidence([2.0, 2.0], 0.0, 1.0), 0.0, 1.0) is None  # zero spread: nothing to add
