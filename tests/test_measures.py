"""Measures read the result files' per-seed figures; pairs combine them seed by seed."""

import math

import pytest

from harness.claims.judges import combine
from harness.claims.measures import (
    ANY,
    Context,
    DifferenceMeasure,
    MemoryModelMeasure,
    MemoryModelSettings,
    NotRun,
    PairMeasure,
    PairSettings,
    PaperScaleMeasure,
    PaperScaleSettings,
    RankSpreadMeasure,
    RankSpreadSettings,
    RunMeasure,
    RunSettings,
    Sample,
    combined_domain,
    dig,
    field_domain,
)
from harness.core.errors import HarnessError


def exact(v):
    return Sample([v], None, True)


def per(values, seeds):
    return Sample(values, seeds, False)


def test_combine_pairs_by_seed_and_broadcasts_exact_values():
    assert combine(exact(6.0), exact(2.0), "ratio") == exact(3.0)
    assert combine(exact(6.0), exact(2.0), "difference") == exact(4.0)
    assert combine(per([4.0, 6.0], ["0", "1"]), exact(2.0), "ratio") == per([2.0, 3.0], ["0", "1"])
    assert combine(exact(12.0), per([4.0, 6.0], ["0", "1"]), "ratio") == per([3.0, 2.0], ["0", "1"])
    # paired on the seeds both have, in a's order
    assert combine(per([1.0, 2.0, 3.0], ["0", "1", "2"]), per([10.0, 30.0], ["2", "0"]), "difference") == per([-29.0, -7.0], ["0", "2"])
    assert combine(exact(1.0), exact(0.0), "ratio") == exact(math.inf)
    with pytest.raises(HarnessError, match="^the two measures share no seed to pair on$"):
        combine(per([1.0], ["0"]), per([1.0], ["1"]), "difference")


@pytest.mark.parametrize("a, b, of, expected", [
    ((0.0, 100.0), (0.0, 100.0), "difference", (-100.0, 100.0)),
    ((1.0, 5.0), (2.0, 3.0), "difference", (-2.0, 3.0)),
    ((0.0, 100.0), (0.0, math.inf), "ratio", (0.0, math.inf)),
    ((-1.0, 1.0), (0.0, 1.0), "ratio", ANY),
    ((0.0, 1.0), (-1.0, 1.0), "ratio", ANY),
])
def test_combined_domain(a, b, of, expected):
    assert combined_domain(a, b, of) == expected


@pytest.mark.parametrize("field, domain", [
    ("metrics.accuracy", (0.0, 100.0)), ("metrics.matthews", (-100.0, 100.0)), ("metrics.word_perplexity", (1.0, math.inf)),
    ("metrics.cider", (0.0, math.inf)), ("adalora.gap_closed", (-math.inf, 100.0)), ("adalora.share_on_planted", (0.0, 1.0)),
    ("memory.peak_rss_delta_mb", ANY), ("trainable_params", (0.0, math.inf)),
])
def test_field_domains(field, domain):
    assert field_domain(field) == domain


def ctx(runs=None, paperscale=None, profile="smoke"):
    return Context(profile=profile, runs=runs or {}, paperscale=paperscale)


def train_file(by_seed: dict) -> dict:
    return {"train": {"seeds": by_seed}}


def test_run_measure_reads_seeds_in_numeric_order_and_knows_exact_fields():
    runs = {"a": train_file({"10": {"trainable_params": 5, "final_loss": 0.1}, "2": {"trainable_params": 5, "final_loss": 0.2}})}
    s = RunMeasure.sample(RunSettings(kind="run", run="a", field="final_loss", file="train"), ctx(runs))
    assert s == per([0.2, 0.1], ["2", "10"])
    assert RunMeasure.sample(RunSettings(kind="run", run="a", field="trainable_params", file="train"), ctx(runs)).deterministic


@pytest.mark.parametrize("runs, settings, why", [
    ({}, dict(run="a", field="final_loss", file="train", profile="paper-x"), "profile paper-x has not run here: `harness run-profile paper-x`"),
    ({}, dict(run="a", field="final_loss", file="train"), "no train results for run 'a' in this profile"),
    ({"a": train_file({"0": {}})}, dict(run="a", field="memory.peak_rss_mb", file="train"), "run 'a' has no field 'memory.peak_rss_mb' (missing 'memory')"),
    ({"a": train_file({"0": {"steps_to_target": 50}, "1": {"steps_to_target": None}})}, dict(run="a", field="steps_to_target", file="train"),
     "run 'a': steps_to_target is null for seed(s) 1"),
    ({"a": {"eval": {"seeds": {"0": {"metrics": {}, "not_run": {"meteor": "needs java"}}}}}}, dict(run="a", field="metrics.meteor", file="causal_eval"),
     "metrics.meteor: needs java"),
])
def test_run_measure_says_why_it_did_not_run(runs, settings, why):
    if settings.get("file") == "causal_eval":
        runs = {"a": {"causal_eval": runs["a"]["eval"]}}
    with pytest.raises(NotRun) as err:
        RunMeasure.sample(RunSettings(kind="run", **settings), ctx(runs))
    assert str(err.value) == why


def test_dig():
    assert dig({"a": {"b": 3}}, "a.b") == 3
    with pytest.raises(KeyError):
        dig({"a": 1}, "a.b")


def test_paperscale_measure():
    s = PaperScaleMeasure.sample(PaperScaleSettings(kind="paperscale", key="m", field="f"), ctx(paperscale={"m": {"f": 7}}))
    assert s == exact(7.0)
    with pytest.raises(NotRun, match="^results/paperscale.json missing: run the paperscale stage$"):
        PaperScaleMeasure.sample(PaperScaleSettings(kind="paperscale", key="m", field="f"), ctx())
    with pytest.raises(NotRun, match=r"^results/paperscale.json has no m.g \(missing 'g'\)$"):
        PaperScaleMeasure.sample(PaperScaleSettings(kind="paperscale", key="m", field="g"), ctx(paperscale={"m": {"f": 7}}))


def test_memory_model_is_measured_over_predicted_extra_memory_per_seed():
    mb = 2**20
    full = {s: {"memory": {"peak_rss_delta_mb": d}, "trainable_params": 1_000_000} for s, d in (("0", 30.0), ("1", 26.0))}
    lora = {s: {"memory": {"peak_rss_delta_mb": d}, "trainable_params": 126_000} for s, d in (("0", 20.0), ("1", 18.0), ("2", 1.0))}
    cfg = MemoryModelSettings(kind="memory_model", full_run="full", peft_run="lora")
    s = MemoryModelMeasure.sample(cfg, ctx({"full": train_file(full), "lora": train_file(lora)}))
    predicted = (1_000_000 - 126_000) * 12 / mb
    assert s.seeds == ["0", "1"] and s.values == pytest.approx([10.0 / predicted, 8.0 / predicted]) and not s.deterministic
    assert MemoryModelMeasure.domain(cfg) == ANY


def test_rank_spread_is_largest_minus_smallest_final_rank():
    runs = {"ada": train_file({"0": {"method_report": {"rank_pattern": {"q": 8, "v": 3}}}, "1": {"method_report": {"rank_pattern": {"q": 4, "v": 4}}}})}
    cfg = RankSpreadSettings(kind="rank_spread", run="ada")
    assert RankSpreadMeasure.sample(cfg, ctx(runs)) == per([5.0, 0.0], ["0", "1"])
    assert RankSpreadMeasure.domain(cfg) == (0.0, math.inf)


def test_difference_measure_and_its_domain():
    runs = {r: {"eval": {"seeds": {"0": {"metrics": {"accuracy": v}}, "1": {"metrics": {"accuracy": v + 1}}}}} for r, v in (("a", 90.0), ("b", 85.0))}
    cfg = PairSettings(kind="difference", a=RunSettings(kind="run", run="a", field="metrics.accuracy"), b=RunSettings(kind="run", run="b", field="metrics.accuracy"))
    assert DifferenceMeasure.sample(cfg, ctx(runs)) == per([5.0, 5.0], ["0", "1"])
    assert DifferenceMeasure.domain(cfg) == (-100.0, 100.0)


def test_derived_measures_read_their_profile():
    runs = {"ada": train_file({"0": {"method_report": {"rank_pattern": {"q": 8}}}})}
    with pytest.raises(NotRun, match="profile paper-x has not run here"):
        RankSpreadMeasure.sample(RankSpreadSettings(kind="rank_spread", run="ada", profile="paper-x"), ctx(runs))
    with pytest.raises(NotRun, match="profile paper-x has not run here"):
        MemoryModelMeasure.sample(MemoryModelSettings(kind="memory_model", full_run="f", peft_run="p", profile="paper-x"), ctx(runs))


def test_null_for_several_seeds_and_unknown_names_list_what_exists():
    runs = {"a": train_file({"0": {"steps_to_target": None}, "1": {"steps_to_target": None}})}
    with pytest.raises(NotRun, match=r"null for seed\(s\) 0, 1$"):
        RunMeasure.sample(RunSettings(kind="run", run="a", field="steps_to_target", file="train"), ctx(runs))
    with pytest.raises(ValueError, match=r"unknown metric 'acc'; known: accuracy, f1, matthews, mean_correlation, pearson, spearman \["):
        RunSettings(kind="run", run="a", field="metrics.acc")
    with pytest.raises(ValueError, match=r"unknown metric 'acc'; known: bits_per_byte, bleu, byte_perplexity, cider"):
        RunSettings(kind="run", run="a", field="metrics.acc", file="causal_eval")
    with pytest.raises(ValueError, match=r"unknown field 'x' in truncate results; known: gain_kept_at_k, max_rank, metric_at_k, rank_half_retention \["):
        RunSettings(kind="run", run="a", field="x", file="truncate")


def test_paperscale_fields_are_what_the_stage_writes():
    import json

    from harness.claims.measures import PAPERSCALE_FIELDS
    from tests.conftest import ROOT

    written = json.loads((ROOT / "results" / "paperscale.json").read_text())
    assert set(written["quantization"]) == PAPERSCALE_FIELDS["quantization"]
    entries = {k: v for k, v in written.items() if k not in ("quantization", "provenance")}
    assert set().union(*entries.values()) == PAPERSCALE_FIELDS["entry"]


def test_timings_of_two_runs_compare_only_on_one_kind_of_machine():
    """Pipelines run apart (the default here, a study on an older machine): a ratio of their train times would
    measure the CPUs, so the pair is not run, naming both; figures that do not depend on speed still compare."""
    def run(cpu, seconds):
        loss = seconds / 100  # each run its own losses: two runs alike on every seed would be a tie
        record = train_file({"0": {"train_seconds": seconds, "final_loss": loss}, "1": {"train_seconds": seconds + 1, "final_loss": loss + 0.1}})
        record["train"]["provenance"] = {"hardware": {"cpu_model": cpu, "cuda": None}}
        return record

    def pair(field, runs):
        cfg = PairMeasure.prepare(PairSettings(kind="pair", a={"kind": "run", "run": "a", "field": field, "file": "train"},
                                               b={"kind": "run", "run": "b", "field": field, "file": "train"}), "t")
        return PairMeasure.sample(cfg, ctx(runs))

    same = {"a": run("AMD EPYC", 10.0), "b": run("AMD EPYC", 20.0)}
    assert pair("train_seconds", same)[0].values == [10.0, 11.0]
    mixed = {"a": run("AMD EPYC", 10.0), "b": run("Intel(R) Xeon(R)", 20.0)}
    with pytest.raises(NotRun, match=r"a ran on AMD EPYC, b on Intel\(R\) Xeon\(R\): timings compare on one kind of machine only"):
        pair("train_seconds", mixed)
    assert pair("final_loss", mixed)[1].values == [0.2, pytest.approx(0.3)]


def test_a_runs_machine_is_its_cpu_and_gpu_as_recorded():
    def context(hardware=None, provenance=True):
        record = {"seeds": {"0": {}}} | ({"provenance": {"hardware": hardware} if hardware is not None else {}} if provenance else {})
        return Context("smoke", {"a": {"train": record}}, None)

    cfg = RunSettings(kind="run", run="a", field="train_seconds", file="train")
    assert RunMeasure.machine(cfg, context({"cpu_model": "EPYC", "cuda": "H100"})) == "EPYC + H100"
    assert RunMeasure.machine(cfg, context({"cpu_model": "EPYC", "cuda": None})) == "EPYC"
    assert RunMeasure.machine(cfg, context({})) is None and RunMeasure.machine(cfg, context(provenance=False)) is None
    assert RunMeasure.machine(cfg, context()) is None  # provenance without a hardware record
    assert RunMeasure.machine(RunSettings(kind="run", run="b", field="train_seconds", file="train"), context({"cpu_model": "x"})) is None


def test_a_planted_task_that_is_no_valid_benchmark_is_not_run_and_says_why():
    record = {"seeds": {"0": {"final_loss": 1.0}}, "validity": {"valid": False, "why": "the control learned the plant"}}
    ctx = Context("smoke", {"planted_low": {"train": record}}, None)
    with pytest.raises(NotRun, match=r"^planted task 'planted_low' is not a valid benchmark: the control learned the plant$"):
        RunMeasure.per_seed(RunSettings(kind="run", run="planted_low", field="final_loss", file="train"), ctx)
    record["validity"]["valid"] = True
    assert RunMeasure.per_seed(RunSettings(kind="run", run="planted_low", field="final_loss", file="train"), ctx) == (["0"], [1.0])
