"""The sequential seed plan (harness/claims/sequential.py, harness/commands/seed_plan.py): boundaries that hold the error over
all looks, claims judged at their look's level, the next look written for exactly the runs an open claim compares."""

import numpy as np
import pytest
import yaml
from scipy import stats as st

from harness.claims.engine import judge_all
from harness.claims.measures import Context
from harness.claims.sequential import SeedPlan, load_plan, nominal_levels, spent
from harness.commands import seed_plan
from harness.core.errors import HarnessError
from tests.conftest import ROOT
from tests.test_claims import BALANCED, arm, relation


def null_p_values(looks, n_experiments=2000, seed=0):
    """One-sided t-test p-values at each look of ``n_experiments`` experiments where the claim is false (mean 0):
    the seeds accumulate, so a later look includes the earlier ones' seeds."""
    x = np.random.default_rng(seed).standard_normal((n_experiments, looks[-1]))
    cols = []
    for n in looks:
        sample = x[:, :n]
        cols.append(st.t.sf(sample.mean(1) / (sample.std(1, ddof=1) / np.sqrt(n)), n - 1))
    return np.stack(cols, axis=1)


@pytest.mark.parametrize("spending", ["obrien_fleming", "pocock"])
def test_the_boundary_keeps_the_type_one_error_over_2000_null_experiments_and_unadjusted_looks_do_not(spending):
    looks, alpha = (3, 5, 10), 0.05
    p = null_p_values(looks)
    sequential = (p < np.array(nominal_levels(looks, alpha, spending))).any(axis=1).mean()
    unadjusted = (p < alpha).any(axis=1).mean()
    assert sequential <= alpha + 0.01
    assert unadjusted > alpha + 0.01  # deciding at every look at alpha itself: about 0.11 here


def test_the_boundaries_match_the_published_ones():
    """Lan-DeMets O'Brien-Fleming spending, two equally spaced looks, one-sided alpha 0.025: z = 2.963 and 1.969
    (Jennison & Turnbull 2000, table 7.6; gsDesign's sfLDOF gives the same); Pocock spending spends alpha ln(1 + (e-1)t)
    by look t, so its first look's level is exactly that."""
    first, second = nominal_levels((5, 10), 0.025, "obrien_fleming")
    assert st.norm.isf(first) == pytest.approx(2.963, abs=2e-3) and st.norm.isf(second) == pytest.approx(1.969, abs=2e-3)
    assert nominal_levels((3, 5, 10), 0.05, "pocock")[0] == pytest.approx(0.05 * np.log(1 + (np.e - 1) * 0.3))
    assert all(0 < a < 0.05 for a in nominal_levels((3, 5, 10), 0.05, "obrien_fleming"))


def test_the_plan_is_validated_and_covers_the_real_data_profiles():
    plan = load_plan(ROOT / "experiments" / "seed_plan.yaml")
    assert plan.looks == [3, 5, 10] and plan.covers("lora.stsb-cpu.on-par-with-full") and not plan.covers("lora.smoke.on-par-with-full")
    for looks in ([5, 3], [3, 3], [3]):  # decreasing, a repeated count, a single look: no plan
        with pytest.raises(ValueError, match="increasing"):
            SeedPlan(looks=looks)
    assert SeedPlan(looks=[3, 5]).look(5).k == 2  # two looks are a plan
    before = SeedPlan(looks=[3, 5]).look(2)  # fewer seeds than the first look: no level at which anything is decided
    assert (before.k, before.of, before.n, before.level, before.next, before.cap) == (0, 2, 2, 0.0, 3, 5)


def planned(monkeypatch, looks=(3, 5, 10)):
    plan = SeedPlan(looks=list(looks), claims=["t.*"])
    monkeypatch.setattr("harness.claims.engine.load_plan", lambda: plan)
    return plan


def test_a_planned_claim_decides_only_under_its_looks_level_and_says_what_the_cap_would(monkeypatch):
    """Three seeds whose one-sided p is about 0.003: a fixed design would call it reproduced; at look 1 of the plan
    (nominal 0.00035) it stays open, names the next look, and says the cap would most likely reproduce it."""
    c = relation(id="t.claim")
    runs = {"a": arm([80.0, 81.0, 82.0], [80.0]), "b": arm([70.0, 72.0, 71.5], [70.0])}
    ctx = Context("smoke", runs, None, prepared=BALANCED)
    fixed = judge_all([c], ctx)[0]
    assert fixed["verdict"] == "reproduced" and fixed["look"] is None
    planned(monkeypatch)
    row = judge_all([c], ctx)[0]
    assert row["verdict"] == "inconclusive" and row["evidence"]["p_inside"] < 0.05
    assert row["look"]["k"] == 1 and row["look"]["next"] == 5 and row["look"]["at_cap"] == "inside"
    assert "look 1 of 3 (3 seeds, nominal level 0.000346)" in row["look"]["text"]
    ten = {"a": arm([80.0, 81.0, 82.0] * 3 + [81.0], [80.0]), "b": arm([70.0, 72.0, 71.5] * 3 + [71.0], [70.0])}
    row = judge_all([c], Context("smoke", ten, None, prepared=BALANCED))[0]
    assert row["verdict"] == "reproduced" and row["look"]["k"] == 3 and row["look"]["next"] is None
    assert row["look"]["at_cap"] is None  # decided: nothing to say of the cap
    five = {"a": arm([80.0, 81.0, 82.0, 81.0, 80.5], [80.0]), "b": arm([70.0, 72.0, 71.5, 71.0, 70.5], [70.0])}
    row = judge_all([c], Context("smoke", five, None, prepared=BALANCED))[0]  # decided at an interim look
    assert row["verdict"] == "reproduced" and row["look"]["k"] == 2 and row["look"]["next"] == 10 and row["look"]["at_cap"] is None


def test_seed_plan_extends_exactly_the_runs_an_open_claim_compares(tmp_path):
    profile = tmp_path / "glue-x.yaml"
    profile.write_text("# a header the plan keeps\nprofile: glue-x\nseeds: [0, 1, 2]\ntrain:\n  lora: {method: lora}\n"
                       "  full: {method: full}\n  adalora: {method: adalora}\n")
    measure = relation(measure={"kind": "pair", "a": {"kind": "run", "run": "lora", "profile": "glue-x", "field": "metrics.accuracy"},
                                "b": {"kind": "run", "run": "full", "profile": "glue-x", "field": "metrics.accuracy"}}).measure
    look = {"k": 1, "next": 5}
    rows = [{"id": "t.open", "verdict": "inconclusive", "look": look}, {"id": "t.done", "verdict": "reproduced", "look": look},
            {"id": "t.fixed", "verdict": "inconclusive", "look": None}]
    wanted = seed_plan.next_looks(rows, {"t.open": measure, "t.done": measure, "t.fixed": measure})
    assert wanted == {"glue-x": {"lora": 5, "full": 5}}
    done = seed_plan.apply(wanted, tmp_path)
    text = profile.read_text()
    doc = yaml.safe_load(text)
    assert text.startswith("# a header the plan keeps") and done == [
        {"profile": "glue-x", "run": "full", "seeds_before": 3, "seeds_after": 5}, {"profile": "glue-x", "run": "lora", "seeds_before": 3, "seeds_after": 5}]
    assert doc["train"]["lora"]["seeds"] == doc["train"]["full"]["seeds"] == [0, 1, 2, 3, 4] and "seeds" not in doc["train"]["adalora"]
    assert seed_plan.apply(wanted, tmp_path) == []  # applied twice: nothing more


def test_seed_plan_changes_nothing_in_a_profile_but_the_seeds_it_adds(tmp_path):
    """The written file is the profile as it was plus the seeds lines: a null stays `null`, comments and order stay."""
    original = ("profile: glue-x  # kept\ndata:\n  text_pair_column: null\n  label_column: label\nseeds:\n- 0\n- 1\n- 2\n"
                "train:\n  lora:\n    method: lora\n    track_every: 25\n  full:\n    method: full\n")
    (tmp_path / "glue-x.yaml").write_text(original)
    seed_plan.apply({"glue-x": {"lora": 5}}, tmp_path)
    text = (tmp_path / "glue-x.yaml").read_text()
    added = "    seeds:\n    - 0\n    - 1\n    - 2\n    - 3\n    - 4\n"
    assert text == original.replace("    track_every: 25\n", "    track_every: 25\n" + added)


def test_seed_plan_applies_one_profiles_part_when_asked(monkeypatch, capsys):
    """``--profile <name>`` prints and writes that profile's part of the next look only (profiles run one at a time);
    a profile the plan does not extend, or a malformed command line, stops in one line."""
    monkeypatch.chdir(ROOT)
    wanted = {"glue-a": {"lora": 5}, "glue-b": {"full": 5, "lora": 5}}
    written = []
    monkeypatch.setattr(seed_plan, "next_looks", lambda rows, measures: wanted)
    monkeypatch.setattr(seed_plan, "apply", lambda w: written.append(w) or [])
    monkeypatch.setattr(seed_plan, "write_json", lambda path, body: None)
    seed_plan.main(["--profile", "glue-b"])
    assert capsys.readouterr().out == "glue-b: full -> 5 seeds, lora -> 5 seeds\n" and written == []
    seed_plan.main(["--apply", "--profile", "glue-b"])
    assert written == [{"glue-b": {"full": 5, "lora": 5}}]
    seed_plan.main(["--apply"])
    assert written[-1] == wanted
    with pytest.raises(HarnessError, match="--profile glue-c: the plan extends no run of it now; profiles it extends: glue-a, glue-b$"):
        seed_plan.main(["--profile", "glue-c"])
    for argv, message in ((["--profile"], "--profile needs a profile name"), (["--profile", "--apply"], "--profile needs a profile name"),
                          (["--aply"], "unknown argument.s. --aply"), (["--apply", "x"], "unknown argument.s. x")):
        with pytest.raises(HarnessError, match=r"usage: harness seed-plan \[--apply\] \[--profile <name>\]: " + message):
            seed_plan.main(argv)


# --- claims across tasks (harness/claims/suite.py) ------------------------------------------------------------------

def suite_claim(of="probability_of_improvement", at_least=0.5, tasks=("t1", "t2", "t3")):
    def side(run, task):
        return {"kind": "run", "run": run, "profile": task, "field": "metrics.accuracy"}

    return relation(id="s.suite", measure={"kind": "suite", "of": of, "tasks": [{"a": side("a", t), "b": side("b", t)} for t in tasks]},
                    judge={"kind": "bound", "at_least": at_least})


def suite_context(per_task):
    """per task: (a's scores over seeds, b's); every arm learned on validation."""
    profiles = {task: Context(task, {"a": arm(a, [80.0]), "b": arm(b, [80.0])}, None, prepared=BALANCED) for task, (a, b) in per_task.items()}
    return Context("smoke", {}, None, prepared=BALANCED, profiles=profiles)


def test_probability_of_improvement_is_the_pairwise_share_averaged_over_tasks_with_ties_half():
    from harness.claims.suite import improvement

    pairs = [(np.array([3.0, 4.0]), np.array([1.0, 2.0])), (np.array([1.0, 1.0]), np.array([1.0, 2.0]))]
    assert improvement(pairs) == pytest.approx((1.0 + (0.5 + 0.0 + 0.5 + 0.0) / 4) / 2)


def test_a_suite_claim_is_decided_by_its_stratified_bootstrap_interval_and_can_fail():
    wins = {"t1": ([82.0, 83.0, 84.0], [80.0, 80.5, 81.0]), "t2": ([70.0, 71.0, 72.0], [60.0, 61.0, 62.0]), "t3": ([55.0, 56.0, 57.0], [50.0, 51.0, 52.0])}
    row = judge_all([suite_claim()], suite_context(wins))[0]
    assert row["verdict"] == "reproduced" and row["estimate"] == 1.0 and row["evidence"]["interval_kind"] == "bootstrap"
    assert row["evidence"]["n"] == 3 and row["evidence"]["ci90"][0] > 0.5
    losses = {t: (b, a) for t, (a, b) in wins.items()}
    assert judge_all([suite_claim()], suite_context(losses))[0]["verdict"] == "not reproduced"
    mixed = {"t1": wins["t1"], "t2": losses["t2"], "t3": ([50.0, 52.0, 54.0], [51.0, 53.0, 55.0])}
    assert judge_all([suite_claim()], suite_context(mixed))[0]["verdict"] == "inconclusive"
    difference = judge_all([suite_claim(of="mean_difference", at_least=0.0)], suite_context(wins))[0]
    assert difference["estimate"] == pytest.approx((2.5 + 10.0 + 5.0) / 3)  # the per-task mean differences, averaged
    # each arm's seeds are resampled: with B's seeds all alike, the interval's width is A's spread alone
    spread = judge_all([suite_claim(of="mean_difference", at_least=0.0)], suite_context({t: ([80.0, 84.0, 88.0], [80.0] * 3) for t in wins}))[0]
    low, high = spread["evidence"]["ci95"]
    assert low < 4.0 < high and high - low > 2.0


def test_a_suite_claim_with_an_arm_that_did_not_learn_on_one_task_is_invalid_and_names_it():
    wins = {t: ([82.0, 83.0, 84.0], [80.0, 80.5, 81.0]) for t in ("t1", "t2", "t3")}
    ctx = suite_context(wins)
    ctx.profiles["t2"].runs["b"] = arm([80.0, 80.5, 81.0], [52.0])  # at the majority class on validation
    row = judge_all([suite_claim()], ctx)[0]
    assert row["verdict"] == "invalid" and row["detail"].startswith("invalid: t2/b did not learn")


@pytest.mark.parametrize("of, domain", [("probability_of_improvement", (0.0, 1.0)), ("mean_difference", (-200.0, 200.0))])
def test_a_suite_quantity_has_its_domain(of, domain):
    """What a suite measure can take at all (the falsifiability test reads it): a probability, or a difference of two
    scores on a 0-100 (Matthews, Pearson: -100-100) scale."""
    from harness.claims.suite import SuiteMeasure

    assert SuiteMeasure.domain(suite_claim(of=of).measure) == domain


def test_the_suite_bootstrap_is_seeded_resamples_each_sample_alone_and_averages_per_task():
    """The same scores give the same distribution (a fixed bootstrap seed: a verdict is reproducible); each (task,
    arm) sample is resampled along its seeds, so a replicate of the mean difference is the average over tasks of
    resampled-a mean minus resampled-b mean, and lies within the per-task extremes."""
    from harness.claims.suite import RESAMPLES, mean_difference, stratified_bootstrap

    pairs = [(np.array([80.0, 82.0, 84.0]), np.array([79.0, 80.0, 81.0])), (np.array([60.0, 61.0]), np.array([50.0, 70.0, 90.0, 55.0]))]
    point, first = stratified_bootstrap(pairs, "mean_difference")
    again = stratified_bootstrap(pairs, "mean_difference")[1]
    assert first.shape == (RESAMPLES,) and np.array_equal(first, again)
    assert point == pytest.approx(((82.0 - 80.0) + (60.5 - 66.25)) / 2) == pytest.approx(float(mean_difference(pairs)))
    # per replicate: a's mean within [80, 84] and [60, 61], b's within [79, 81] and [50, 90]
    assert first.min() >= ((80 - 81) + (60 - 90)) / 2 and first.max() <= ((84 - 79) + (61 - 50)) / 2
    assert len(set(np.round(first, 9))) > 50  # resampled, not repeated


@pytest.mark.parametrize(("t", "obrien_fleming", "pocock"), [(0.3, 0.000346, 0.02079), (0.5, 0.005575, 0.03101), (1.0, 0.05, 0.05)])
def test_the_spending_functions_spend_the_published_error_by_each_fraction(t, obrien_fleming, pocock):
    """Lan & DeMets (1983) at alpha 0.05: O'Brien-Fleming type 2(1 - Phi(z_{0.975} / sqrt(t))) (0.0056 by half the
    information), Pocock type alpha ln(1 + (e - 1) t); both spend all of alpha at t = 1. Called directly:
    nominal_levels caches its result, so a mutant of this function reached only through it can go unseen."""
    assert spent(t, 0.05, "obrien_fleming") == pytest.approx(obrien_fleming, rel=2e-3)
    assert spent(t, 0.05, "pocock") == pytest.approx(pocock, rel=2e-3)
    assert spent(t, 0.05, "obrien_fleming") < spent(t, 0.05, "pocock") or t == 1.0
