"""Measures: where a claim's "ours" comes from. Each returns a :class:`Sample` or raises :class:`NotRun`."""

from __future__ import annotations

import dataclasses
import fnmatch
import math
import re
from typing import Any, Literal

from pydantic.dataclasses import dataclass

from harness.claims.claim import typed_measure
from harness.core.errors import HarnessError
from harness.core.registry import MEASURES
from harness.core.schema import STRICT


class NotRun(Exception):
    """The measurement does not exist here; the message says why (needs GPU, network, a run, ...)."""


class NoEvidence(Exception):
    """The measurement exists but cannot bear on the claim (the verdict is inconclusive); the message says why."""


@dataclasses.dataclass(frozen=True)
class Sample:
    values: list[float]
    seeds: list[str] | None  # per-seed values pair up across samples by seed
    deterministic: bool  # a count computed exactly: one value is the whole truth
    bootstrap: list[float] | None = None  # a statistic's bootstrap distribution (values: the statistic itself)


def combine(a: Sample, b: Sample, of: Literal["difference", "ratio"]) -> Sample:
    """Per-seed a - b or a / b: paired by seed where both vary by seed, broadcast where one is exact."""
    fn = (lambda x, y: x - y) if of == "difference" else (lambda x, y: x / y if y else math.inf)
    if a.deterministic and b.deterministic:
        return Sample([fn(a.values[0], b.values[0])], None, True)
    if b.deterministic:
        return Sample([fn(x, b.values[0]) for x in a.values], a.seeds, False)
    if a.deterministic:
        return Sample([fn(a.values[0], y) for y in b.values], b.seeds, False)
    common = [s for s in a.seeds if s in set(b.seeds)]
    if not common:
        raise HarnessError("the two measures share no seed to pair on")
    av, bv = dict(zip(a.seeds, a.values)), dict(zip(b.seeds, b.values))
    return Sample([fn(av[s], bv[s]) for s in common], common, False)


@dataclasses.dataclass(frozen=True)
class Context:
    profile: str
    runs: dict[str, dict[str, Any]]  # run -> {"train": ..., "eval": ...} as loaded from results/
    paperscale: dict[str, Any] | None
    # the other profiles' results (results/profiles/<name>/, written by harness run-profile): a claim is judged
    # against the profile it names, wherever that profile's results are
    profiles: dict[str, Context] = dataclasses.field(default_factory=dict)
    prepared: dict[str, Any] | None = None  # the prepare stage's summary (label counts per split): the competence check's floor

    def of_profile(self, name: str) -> Context:
        if name == self.profile:
            return self
        if name in self.profiles:
            return self.profiles[name]
        raise NotRun(f"profile {name} has not run here: `harness run-profile {name}`")


Domain = tuple[float, float]
ANY: Domain = (-math.inf, math.inf)
NON_NEGATIVE: Domain = (0.0, math.inf)

# The values a quantity can take at all, whatever the method: the falsifiability test
# (tests/test_claims.py) needs them, since a region that covers a quantity's whole domain accepts
# every measurement ("accuracy >= 0" can never fail). First matching pattern wins.
DOMAINS: list[tuple[str, Domain]] = [
    ("metrics.accuracy", (0.0, 100.0)), ("metrics.f1", (0.0, 100.0)), ("metrics.matthews", (-100.0, 100.0)),
    ("metrics.pearson", (-100.0, 100.0)), ("metrics.spearman", (-100.0, 100.0)),
    ("metrics.bleu", (0.0, 100.0)), ("metrics.meteor", (0.0, 100.0)), ("metrics.rouge_l", (0.0, 100.0)),
    ("metrics.*perplexity", (1.0, math.inf)), ("metrics.*", NON_NEGATIVE),
    ("*.gap_closed", (-math.inf, 100.0)), ("*.share_on_planted", (0.0, 1.0)), ("*.energy_on_planted", (0.0, 1.0)),
    ("*.recovery", (0.0, 1.0)),
    ("memory.peak_rss_delta_mb", ANY), ("rank_half_retention", ANY), ("gain_kept_at_k*", ANY),
    # the SFT-then-DPO record (harness/causal/alignment.py): percentages, and log-probability / reward margins
    ("*.eval.preference_accuracy", (0.0, 100.0)), ("*.eval.reward_accuracy", (0.0, 100.0)), ("*.eval.coverage", (0.0, 100.0)),
    ("*.eval.contradiction_rate", (0.0, 100.0)), ("*.eval.complete", (0.0, 100.0)), ("*.eval.bleu", (0.0, 100.0)),
    ("*.eval.*_margin", ANY), ("*.memory.peak_rss_delta_mb", ANY),
    # the knowledge-update record (harness/causal/knowledge.py): percentages of facts
    ("changed_accuracy", (0.0, 100.0)), ("stale_rate", (0.0, 100.0)), ("unchanged_accuracy", (0.0, 100.0)),
    ("fact_accuracy", (0.0, 100.0)), ("retrieval.hit_at_*", (0.0, 100.0)),
    ("*", NON_NEGATIVE),  # counts, bytes, seconds, memory, ratios of them, steps, ranks
]


def field_domain(field: str) -> Domain:
    return next(domain for pattern, domain in DOMAINS if fnmatch.fnmatchcase(field, pattern))


class Measure:
    Config: type

    @staticmethod
    def domain(cfg: Any) -> Domain:
        return field_domain(cfg.field)

    @staticmethod
    def prepare(cfg: Any, where: str) -> Any:
        """Validate whatever the settings nest (a pair's two measures); most measures nest nothing."""
        return cfg


def dig(obj: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        if not isinstance(obj, dict) or part not in obj:
            raise KeyError(part)
        obj = obj[part]
    return obj


# What a seed's record holds, per results file (the producers: stages/train.py, stages/evaluate.py,
# stages/truncate.py, stages/planted.py and, for the causal track, stages/causal_train.py, causal_evaluate.py
# causal_align.py and causal_knowledge.py).
TRAIN_FIELDS = {"trainable_params", "effective_params", "total_params", "steps", "effective_batch", "precision", "train_seconds",
                "train_tokens", "tokens_per_s", "train_cpu_seconds", "tokens_per_cpu_s", "final_loss", "memory", "device", "threads",
                "method_report", "steps_to_target"}
FIELDS = {
    "train": TRAIN_FIELDS,
    "eval": {"metrics", "artifact_bytes", "eval_seconds", "eval_tokens_per_s", "threads", "latency", "latency_ms"},
    "truncate": {"max_rank", "metric_at_k", "gain_kept_at_k", "rank_half_retention"},
    "planted": {"oracle", "negative", "uniform", "adalora"},  # each arm's figures (harness/planted/benchmark.py ARMS)
    "causal_train": TRAIN_FIELDS,
    "causal_eval": {"metrics", "artifact_bytes", "eval_seconds", "threads", "n_test"},
    "causal_align": {"trainable_params", "sft", "dpo", "train_seconds", "memory", "artifact_bytes"},
    "causal_knowledge": {"changed_accuracy", "stale_rate", "unchanged_accuracy", "fact_accuracy", "setup_seconds", "train_seconds",
                         "index_seconds", "retrieval_ms", "answer_ms", "memory", "trainable_params", "retrieval"},
}


def metric_names(file: str) -> list[str]:
    """Metrics a results file can hold: the classification registry, or the causal track's lm-eval metrics."""
    if file == "causal_eval":
        from harness.causal.evaluation import METRICS as CAUSAL

        return sorted({m for names in CAUSAL.values() for m in names})
    from harness.core.registry import METRICS

    return METRICS.names()


@dataclass(config=STRICT)
class RunSettings:
    kind: str
    run: str
    field: str  # dotted path inside one seed's record, e.g. metrics.accuracy, memory.peak_rss_mb
    # planted: ``run`` names a planted task; causal_*: ``run`` names a causal run (or icl, the in-context row);
    # causal_align: an SFT-then-DPO run (causal.align.runs); causal_knowledge: a knowledge-update arm
    file: Literal["train", "eval", "truncate", "planted", "causal_train", "causal_eval", "causal_align", "causal_knowledge"] = "eval"
    profile: str = "smoke"

    def __post_init__(self) -> None:
        head, _, rest = self.field.partition(".")
        if head not in FIELDS[self.file]:
            raise ValueError(f"unknown field {self.field!r} in {self.file} results; known: {', '.join(sorted(FIELDS[self.file]))}")
        if head == "metrics" and rest not in metric_names(self.file):
            raise ValueError(f"unknown metric {rest!r}; known: {', '.join(metric_names(self.file))}")


DETERMINISTIC_FIELDS = {"trainable_params", "total_params", "artifact_bytes"}
TIMED = re.compile(r"seconds|per_s|latency|_ms\b")  # fields whose value depends on the machine's speed


@MEASURES.register("run")
class RunMeasure(Measure):
    """A per-seed figure from ``results/<file>/<run>.json`` of the pipeline's runs."""

    Config = RunSettings

    @staticmethod
    def sample(cfg: RunSettings, ctx: Context) -> Sample:
        seeds, raw = RunMeasure.per_seed(cfg, ctx)
        return Sample(values=[float(v) for v in raw], seeds=seeds, deterministic=cfg.field in DETERMINISTIC_FIELDS)

    @staticmethod
    def machine(cfg: RunSettings, ctx: Context) -> str | None:
        """The CPU (and GPU) the run's results were measured on, as its provenance records them."""
        record = ctx.of_profile(cfg.profile).runs.get(cfg.run, {}).get(cfg.file) or {}
        hardware = record.get("provenance", {}).get("hardware", {})
        return " + ".join(filter(None, [hardware.get("cpu_model"), hardware.get("cuda")])) or None

    @staticmethod
    def per_seed(cfg: RunSettings, ctx: Context) -> tuple[list[str], list[Any]]:
        """The seeds (in numeric order) and each one's value of the field as recorded (a number, or the
        mapping a derived measure reduces), or NotRun saying why there is none."""
        ctx = ctx.of_profile(cfg.profile)
        record = ctx.runs.get(cfg.run, {}).get(cfg.file)
        if record is None:
            raise NotRun(f"no {cfg.file} results for run {cfg.run!r} in this profile")
        if record.get("validity", {}).get("valid") is False:  # the allocator is judged only where the controls pass
            raise NotRun(f"planted task {cfg.run!r} is not a valid benchmark: {record['validity']['why']}")
        seeds = sorted(record["seeds"], key=int)
        try:
            raw = [dig(record["seeds"][s], cfg.field) for s in seeds]
        except KeyError as err:
            why = next((r["not_run"][err.args[0]] for r in record["seeds"].values() if err.args[0] in r.get("not_run", {})), None)
            if why:  # a metric the evaluation could not compute here, with its reason
                raise NotRun(f"{cfg.field}: {why}") from None
            raise NotRun(f"run {cfg.run!r} has no field {cfg.field!r} (missing {err})") from None
        missing = [s for s, v in zip(seeds, raw) if v is None]
        if missing:  # e.g. steps_to_target when the target was never reached
            raise NotRun(f"run {cfg.run!r}: {cfg.field} is null for seed(s) {', '.join(missing)}")
        return seeds, raw


@dataclass(config=STRICT)
class PaperScaleSettings:
    kind: str
    key: str  # entry of results/paperscale.json
    field: str


@MEASURES.register("paperscale")
class PaperScaleMeasure(Measure):
    """An exact count at paper scale, computed offline from architecture configs (stage ``paperscale``)."""

    Config = PaperScaleSettings

    @staticmethod
    def sample(cfg: PaperScaleSettings, ctx: Context) -> Sample:
        if ctx.paperscale is None:
            raise NotRun("results/paperscale.json missing: run the paperscale stage")
        try:
            value = float(dig(ctx.paperscale[cfg.key], cfg.field))
        except KeyError as err:
            raise NotRun(f"results/paperscale.json has no {cfg.key}.{cfg.field} (missing {err})") from None
        return Sample(values=[value], seeds=None, deterministic=True)


@dataclass(config=STRICT)
class PairSettings:
    kind: str
    a: Any
    b: Any


# What the paperscale stage writes per entry (harness/stages/paperscale.py ``count``) and for "quantization".
PAPERSCALE_FIELDS = {
    "entry": {"base_params", "trainable_params", "base_over_trainable", "checkpoint_bytes_fp16", "checkpoint_mb_fp16",
              "train_memory_gb_16bit", "final_budget_triplets", "final_budget_params_uniform", "train_memory_gb_nf4_dq"},
    "quantization": {"constant_bits_per_param_plain", "constant_bits_per_param_double_quant",
                     "double_quant_saving_bits_per_param", "double_quant_saving_gb_at_65b"},
}


@MEASURES.register("pair")
class PairMeasure(Measure):
    """Two measures compared with each other (relation and ratio judges): ``a`` against ``b``."""

    Config = PairSettings

    @staticmethod
    def prepare(cfg: PairSettings, where: str) -> PairSettings:
        return PairSettings(kind=cfg.kind, a=typed_measure(cfg.a, f"{where}.a"), b=typed_measure(cfg.b, f"{where}.b"))

    @staticmethod
    def sample(cfg: PairSettings, ctx: Context) -> tuple[Sample, Sample]:
        a, b = MEASURES.get(cfg.a.kind).sample(cfg.a, ctx), MEASURES.get(cfg.b.kind).sample(cfg.b, ctx)
        PairMeasure.told_apart(cfg, a, b)
        PairMeasure.one_machine(cfg, ctx)
        return a, b

    @staticmethod
    def one_machine(cfg: PairSettings, ctx: Context) -> None:
        """Timings compare only when both sides ran on one kind of machine: a study rerun on another machine than
        the default's (pipelines run apart) would otherwise turn a CPU's speed into a method's. NotRun names both."""
        leaves = (cfg.a, cfg.b)
        if not all(leaf.kind == "run" and TIMED.search(leaf.field) for leaf in leaves):
            return
        machines = [RunMeasure.machine(leaf, ctx) for leaf in leaves]
        if machines[0] != machines[1]:
            raise NotRun(f"{cfg.a.run} ran on {machines[0]}, {cfg.b.run} on {machines[1]}: timings compare on one kind of "
                         "machine only; rerun the older of the two pipelines here")

    @staticmethod
    def told_apart(cfg: PairSettings, a: Sample, b: Sample) -> None:
        """Two different runs scoring exactly alike on every seed, on any field, have not been told apart - typically
        both predict one class (accuracy = the majority share, Matthews 0) or both sit at a floor (no fact recalled)
        - and any relation or margin between them would pass or fail on that tie alone: NoEvidence."""
        leaves = (cfg.a, cfg.b)
        if not all(leaf.kind == "run" for leaf in leaves) or cfg.a.field != cfg.b.field:
            return
        if (cfg.a.profile, cfg.a.run) == (cfg.b.profile, cfg.b.run) or a.deterministic or a.seeds != b.seeds or a.values != b.values:
            return
        same = set(a.values)
        raise NoEvidence(f"{cfg.a.run} and {cfg.b.run} score the same {cfg.a.field} on each of the {len(a.values)} seeds"
                         + (f" ({same.pop():g} throughout)" if len(same) == 1 else "")
                         + ": not told apart (e.g. both predict one class), so the comparison carries no evidence")

    @staticmethod
    def domains(cfg: PairSettings) -> tuple[Domain, Domain]:
        return MEASURES.get(cfg.a.kind).domain(cfg.a), MEASURES.get(cfg.b.kind).domain(cfg.b)


@dataclass(config=STRICT)
class MemoryModelSettings:
    kind: str
    full_run: str  # a run that trains every weight
    peft_run: str  # a run of the same model that trains few
    bytes_per_trainable: float = 12.0  # fp32 gradient (4) + two fp32 Adam moments (8)
    profile: str = "smoke"


@MEASURES.register("memory_model")
class MemoryModelMeasure(Measure):
    """Validates the analytic memory model at small scale: measured / predicted extra peak memory of
    full fine-tuning over a PEFT run, per seed. The base weights and the activations cancel in the
    difference, so what remains is what the model predicts: gradients and optimizer states."""

    Config = MemoryModelSettings

    @staticmethod
    def sample(cfg: MemoryModelSettings, ctx: Context) -> Sample:
        def field(run: str, name: str) -> Sample:
            return RunMeasure.sample(RunSettings(kind="run", run=run, field=name, file="train", profile=cfg.profile), ctx)

        full, peft = field(cfg.full_run, "memory.peak_rss_delta_mb"), field(cfg.peft_run, "memory.peak_rss_delta_mb")
        trainable_full = field(cfg.full_run, "trainable_params").values[0]
        trainable_peft = field(cfg.peft_run, "trainable_params").values[0]
        predicted_mb = (trainable_full - trainable_peft) * cfg.bytes_per_trainable / 2**20
        by_seed = dict(zip(peft.seeds, peft.values))
        seeds = [s for s in full.seeds if s in by_seed]
        return Sample([(v - by_seed[s]) / predicted_mb for s, v in zip(full.seeds, full.values) if s in by_seed], seeds, False)

    @staticmethod
    def domain(cfg: MemoryModelSettings) -> Domain:
        return ANY  # measured minus predicted can fall either side


@dataclass(config=STRICT)
class RankSpreadSettings:
    kind: str
    run: str
    profile: str = "smoke"
    file: Literal["train"] = "train"


@MEASURES.register("rank_spread")
class RankSpreadMeasure(Measure):
    """Largest minus smallest final rank over an AdaLoRA run's modules, per seed: 0 when every module
    kept the same rank (no allocation, or uniform pruning), large when budget moved between modules."""

    Config = RankSpreadSettings

    @staticmethod
    def sample(cfg: RankSpreadSettings, ctx: Context) -> Sample:
        seeds, ranks = RunMeasure.per_seed(RunSettings(kind="run", run=cfg.run, field="method_report.rank_pattern", file="train", profile=cfg.profile), ctx)
        return Sample([float(max(r.values()) - min(r.values())) for r in ranks], seeds, False)

    @staticmethod
    def domain(cfg: RankSpreadSettings) -> Domain:
        return NON_NEGATIVE


@MEASURES.register("difference")
class DifferenceMeasure(Measure):
    """Per-seed ``a - b`` as one measure, so that two gaps can be compared (a pair of differences:
    "AdaLoRA's gain over LoRA is larger at budget 2 than at budget 8")."""

    Config = PairSettings
    prepare = PairMeasure.prepare

    @staticmethod
    def sample(cfg: PairSettings, ctx: Context) -> Sample:
        return combine(*PairMeasure.sample(cfg, ctx), "difference")

    @staticmethod
    def domain(cfg: PairSettings) -> Domain:
        return combined_domain(*PairMeasure.domains(cfg), "difference")


def combined_domain(a: Domain, b: Domain, of: str) -> Domain:
    """The values a - b or a / b can take given those of a and b."""
    if of == "difference":
        return a[0] - b[1], a[1] - b[0]
    if a[0] >= 0 and b[0] >= 0:
        return 0.0, math.inf
    return ANY
