"""``params.yaml`` loaded once into typed, validated dataclasses.

Stage code reads attributes of :class:`Params`, never raw dicts. Validation happens here, up front,
so a typo in a key or a wrong type stops the pipeline with one line that names the key and what is
allowed, before any output is written.

The sections whose shape depends on a registered name (``train.<run>`` by its ``method``,
``data.<source>`` by the source name) are validated with the config class that the method or source
registered, so adding one never edits this file. The causal track's section is kept as written and parsed
by the track itself (``harness/causal/settings.py``, :func:`~harness.causal.settings.causal_of`) when a
stage first asks for it, so the stages that never read it do not depend on its code; ``harness validate``
and ``harness run-profile`` parse every section up front.
"""

from __future__ import annotations

import copy
import dataclasses
import typing
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import Field, StrictInt, StrictStr, TypeAdapter, ValidationError
from pydantic.dataclasses import dataclass

from harness.core.errors import HarnessError
from harness.core.io import load_yaml
from harness.core.paths import STUDIES
from harness.core.schema import STRICT, NonNegFloat, NonNegInt, PositiveInt, setting, validate


@dataclass(config=STRICT)
class ModelConfig:
    """Base model: ``embedded:<name>`` (shipped in a package, offline), a hub id, or a local directory."""

    name: str = setting("embedded:all-MiniLM-L6-v2", help="embedded:<name> (a model shipped in a package: offline), a hub id, or a local directory")
    max_length: PositiveInt = setting(64, help="tokens per example; longer inputs are truncated")
    dtype: Literal["float32", "bfloat16", "float16"] = setting("float32", help="the dtype the base model's weights are loaded in")


@dataclass(config=STRICT)
class LoopConfig:
    """Optimisation settings shared by every run; a run may override ``lr`` (and ``track_every``) in its own section::

        loop:
          max_steps: 600          # or epochs: 3 (exactly one of the two is positive)
          batch_size: 32
          lr: 1.0e-3              # the default lr; the tune stage tries it times each tuning.factors
          warmup_ratio: 0.06
          scheduler: linear
          track_every: 50         # a validation point every 50 steps (steps_to_target reads the curve)
    """

    max_steps: NonNegInt = setting(0, help="optimizer steps per run (exactly one of max_steps and epochs is positive)")
    epochs: NonNegFloat = setting(0.0, help="passes over the training split, when max_steps is 0")
    batch_size: PositiveInt = setting(32, help="examples per device (and per process under `accelerate launch`); an optimizer step sees "
                                          "batch_size x gradient_accumulation_steps x processes examples (the effective batch)")
    gradient_accumulation_steps: PositiveInt = setting(1, help="batches accumulated into one optimizer step")
    gradient_checkpointing: bool = setting(False, help="recompute activations in the backward pass instead of keeping them: less "
                                                       "memory, about a third more compute")
    precision: Literal["auto", "fp32", "bf16", "fp16"] = setting("auto", help="autocast precision; auto: bf16 on a GPU that supports "
                                                                              "it, fp32 elsewhere (the CPU included)")
    checkpoint_every: NonNegInt = setting(0, help="a checkpoint (weights, optimizer, schedule, RNGs, shuffle and method state) every N "
                                                  "optimizer steps; a stage killed mid-run resumes from the last when rerun. 0: none")
    report_to: list[Literal["tensorboard", "wandb", "dvclive"]] = setting(
        factory=lambda: ["tensorboard"], help="where the tune, train and causal_train stages also send their loss and validation curves, "
        "live: TensorBoard (runs/<stage>/<run>/<seed or lr>), W&B (installed and logged in), DVCLive (dvclive/<stage>/<run>/...)")
    group_by_length: bool = setting(False, help="batches of similar length (HF's group_by_length): less padding, the same examples per epoch")
    eval_batch_size: PositiveInt = setting(128, help="examples per forward pass when scoring")
    latency_batch: PositiveInt = setting(32, help="inference latency: the median forward time on this many eval examples")
    latency_repeats: PositiveInt = setting(20, help="inference latency: interleaved rounds (model, base model, merged model where the method merges)")
    lr: typing.Annotated[float, Field(gt=0)] = setting(1e-3, help="the default learning rate; a run may set its own; the tune stage "
                                                                  "tries it times each of tuning.factors")
    weight_decay: NonNegFloat = setting(0.0, help="AdamW's decoupled weight decay")
    warmup_ratio: typing.Annotated[float, Field(ge=0, lt=1)] = setting(0.06, help="share of the steps the lr warms up over")
    scheduler: Literal["linear", "cosine", "constant", "constant_with_warmup"] = setting("linear", help="the lr schedule after warm-up")
    max_grad_norm: NonNegFloat = setting(1.0, help="gradient clipping norm (0: none)")
    threads: NonNegInt = setting(0, help="CPU: a positive count trains every seed (or grid point) at once, each in a process of its "
                                        "own on that many threads; 0: one after the other, each on every core")
    device: Literal["auto", "cpu", "cuda"] = setting("auto", help="auto: a GPU when there is one, else the CPU")
    track_every: NonNegInt = setting(0, help="a validation point (the primary metric on the first track_examples eval examples) every N "
                                             "steps; 0: off; a run may set its own. Its time is not counted as training time")
    track_examples: PositiveInt = setting(256, help="eval examples each validation point scores")
    target: float | None = setting(None, help="steps_to_target: the first tracked step at or above this score (the LoRA+ convergence claim)")

    def __post_init__(self) -> None:
        if (self.max_steps > 0) == (self.epochs > 0):
            raise ValueError("set exactly one of max_steps and epochs to a positive value")


@dataclass(config=STRICT)
class TuningConfig:
    """One learning-rate budget for every trained run (stage ``tune``): the run's default lr (its ``lr``, else
    ``loop.lr``: the method's published or documented value) times each factor, trained at ``seed`` and scored
    on the validation split; the best feeds the run. The same factors for every run is what makes the
    comparisons fair; 1 must be among them, so the published default is always tried."""

    seed: int = setting(0, help="the seed every grid point trains at")
    factors: list[typing.Annotated[float, Field(gt=0)]] = setting(factory=lambda: [1.0, 3.0, 10.0], help=(
        "the lr grid: the run's default lr times each factor (1 must be among them)"))
    extend_step: typing.Annotated[float, Field(gt=1)] = setting(3.0, help=(
        "a best lr on an edge of the grid grows it that way (harness/engine/grid_search.py: search), each new point this many "
        "times beyond the last, on validation only"))
    extend_per_round: PositiveInt = setting(2, help="lr points added a round while the best sits on an edge")
    extend_max: NonNegInt = setting(4, help=(
        "at most this many lr points added on a side (the cap: a best still there reads \"grid edge\"); 0: never extend"))
    steps_factors: list[typing.Annotated[float, Field(gt=0)]] = setting(factory=lambda: [1.0], help=(
        "training length, a second axis chosen on validation: the run's schedule (loop.max_steps, or the steps loop.epochs gives) "
        "times each factor (1 must be among them); [1.0]: one length, the schedule as configured"))
    length_search: Literal["joint", "after_lr"] = setting("joint", help=(
        "with several lengths: joint searches the lr grid at each length and keeps the best (length, lr); after_lr searches it at "
        "the schedule's length, then trains each length at the lr chosen there (a point per length, not a grid)"))
    steps_extend_step: typing.Annotated[float, Field(gt=1)] = setting(2.0, help=(
        "a best at the longest (shortest) length adds a length this many times longer (shorter), one a round"))
    steps_extend_max: NonNegInt = setting(2, help=(
        "at most this many lengths added on a side (the row then reads \"grid edge: steps top\")"))

    def __post_init__(self) -> None:
        for key, values in (("factors", self.factors), ("steps_factors", self.steps_factors)):
            if 1.0 not in values:
                raise ValueError(f"{key} must include 1 (the run's default is a grid point); got {values}")
            if len(set(values)) != len(values):
                raise ValueError(f"{key} must be distinct; got {values}")


@dataclass(config=STRICT)
class TruncateConfig:
    """Runs whose adapters get the rank-truncation curve (low-rank methods only)."""

    runs: list[str] = setting(factory=list, help="runs (under train) whose adapters get the rank-truncation curve")


@dataclass(config=STRICT)
class PlantedConfig:
    """Planted-rank benchmark (ground truth for "rank goes where the task needs it", harness/planted/benchmark.py): a
    teacher is the base encoder plus known low-rank updates; every arm learns the teacher's hidden states.

    Example: ``tasks: {low: {layer.2.attention.self.value: 2}, none: {}}`` plants rank 2 in one module for task
    ``low``; ``none`` plants nothing (the no-plant control). The AdaLoRA ``student``'s final budget
    (``target_r`` per adapted module) is also the uniform and negative arms' budget.
    """

    student: Any = setting(help="the allocator under test: an adalora section as under train (validated as one)")
    tasks: dict[str, dict[str, NonNegInt]] = setting(help="task -> {module-name suffix: planted rank}; {}: the no-plant control")
    tune_task: str = setting(help="the task every arm's learning rate is tuned on (one that plants rank)")
    seeds: list[int] = setting(factory=lambda: [0, 1, 2], help="the seeds every arm trains on")
    seed: int = setting(7, help="the seed of the teacher's planted updates")
    strength: typing.Annotated[float, Field(gt=0)] = setting(0.5, help="planted singular values over the weight's spectral norm")
    n_train: PositiveInt = setting(1000, help="training examples (sentences whose teacher hidden states the arms learn)")
    n_eval: PositiveInt = setting(256, help="held-out examples the gap closed is measured on")
    steps: PositiveInt = setting(150, help="optimizer steps per arm")
    budgets: list[PositiveInt] = setting(factory=lambda: [1, 2, 4, 8, 12, 16], help="AdaLoRA total-rank budgets of the budget curve")
    gain_kept: typing.Annotated[float, Field(gt=0, le=1)] = setting(0.9, help="\"budget needed\" keeps this share of the gap closed")
    positive_min: typing.Annotated[float, Field(gt=0, le=100)] = setting(90.0, help="% of the gap the oracle arm must close (the positive control)")
    negative_max: typing.Annotated[float, Field(gt=0, le=100)] = setting(50.0, help="% LoRA off the planted modules must stay under (the negative control)")


@dataclass(config=STRICT)
class DataConfig:
    """The data every source shares, plus (``options``) the validated settings of each source section present
    (``data.<source>``, validated by the source's own config class)."""

    source: str = setting(help="the data source (a registered name; its own settings go under data.<source>)")
    task: Literal["classification", "regression"] = setting("classification", help=(
        "classification: one class per label; regression (STS-B's similarity score): one output, scored by correlation "
        "metrics (pearson, spearman), labels not read"))
    standardize_targets: bool = setting(True, help=(
        "regression: train on targets standardised with the training split's mean and spread (validation and test keep their "
        "scores); false: the raw scores, as the papers' code trains"))
    labels: list[StrictInt] | list[StrictStr] = setting(factory=lambda: [0, 1], help=(
        "the label values the data uses, in class-id order: integers (SST-2's 0/1) or the names a file uses"))
    metrics: list[str] = setting(factory=lambda: ["accuracy"], help="registered metrics; the first is the primary one (tuning and claims)")
    train_size: NonNegInt = setting(0, help="training examples kept (0: all)")
    eval_size: NonNegInt = setting(0, help="examples of the reported (test) split kept (0: all)")
    validation_size: PositiveInt = setting(1000, help=(
        "where the source has no validation split, this many training examples (drawn with subset_seed) become one and leave train"))
    subset_seed: int = setting(0, help="the seed of every subset drawn from the data")
    options: dict[str, Any] = dataclasses.field(default_factory=dict, metadata={"internal": "filled by the loader, never read from params.yaml"})

    def __post_init__(self) -> None:
        if len(self.labels) < 2 or len(set(self.labels)) != len(self.labels):
            raise ValueError("labels must list at least two distinct labels, all integers or all names")
        if not self.metrics:
            raise ValueError("metrics must name at least one metric (the first is the primary one)")

    @property
    def source_options(self) -> Any:
        return self.options[self.source]

    @property
    def num_labels(self) -> int:
        """Outputs of the model's head: one per class, or one score (regression)."""
        return 1 if self.task == "regression" else len(self.labels)


@dataclasses.dataclass(frozen=True)
class Params:
    profile: str
    seeds: list[int]
    model: ModelConfig
    data: DataConfig
    loop: LoopConfig
    train: dict[str, Any]  # run name -> the method's own validated config (its ``methods`` entry, then its own keys)
    tuning: TuningConfig
    truncate: TruncateConfig
    sweep: dict[str, list[str]]  # series name -> runs at increasing budget (the budget-sweep table and plot)
    planted: PlantedConfig | None
    # The causal track's section as written (None: absent). Only its own stages parse it, so editing the track's
    # settings reruns only them: harness.causal.settings.causal_of(params) validates it on first use.
    causal_raw: Any
    where: str = "params.yaml"  # the file these params were read from, for errors about the lazily parsed sections
    studies: list[str] = dataclasses.field(default_factory=list)  # studies/<name>/params.yaml merged in (load_params)
    methods: dict[str, dict[str, Any]] = dataclasses.field(default_factory=dict)  # method -> the settings its runs start from
    parsed: dict[str, Any] = dataclasses.field(default_factory=dict, init=False, repr=False, compare=False)  # lazily parsed sections (replace() starts afresh)


TOP_LEVEL = {"profile", "seeds", "model", "data", "loop", "methods", "train", "tuning", "truncate", "sweep", "planted", "causal", "studies"}


def _parse_data(raw: Any, where: str) -> DataConfig:
    from harness.core.registry import SOURCES

    raw = dict(raw or {})
    common_keys = {f.name for f in dataclasses.fields(DataConfig)} - {"options"}
    options_raw = {k: raw.pop(k) for k in list(raw) if k not in common_keys}
    unknown = [k for k in options_raw if k not in SOURCES]
    if unknown:
        allowed = ", ".join(sorted(common_keys) + SOURCES.names())
        raise HarnessError(f"{where}.{unknown[0]}: unknown key; allowed: {allowed}")
    data = validate(DataConfig, raw, where)
    SOURCES.get(data.source)  # unknown source -> error listing the known ones
    options = {name: validate(SOURCES.get(name).Config, opts, f"{where}.{name}") for name, opts in options_raw.items()}
    if data.source not in options:
        options[data.source] = validate(SOURCES.get(data.source).Config, {}, f"{where}.{data.source}")
    from harness.core.registry import METRICS

    for m in data.metrics:
        metric = METRICS.get(m)  # an unknown name: an error listing the known ones
        if data.task == "regression" and not getattr(metric, "on_scores", False):
            scored = ", ".join(n for n in METRICS.names() if getattr(METRICS.get(n), "on_scores", False))
            raise HarnessError(f"{where}.metrics: {m!r} compares classes; a regression task is scored by: {scored}")
    return dataclasses.replace(data, options=options)


def parse_methods(raw: Any, where: str) -> dict[str, dict[str, Any]]:
    """``methods``: method name -> the settings every run of that method starts from (a run's own keys override
    them), each checked against the method's settings class as a run would be."""
    from harness.core.registry import METHODS

    if raw is None:
        return {}
    if not isinstance(raw, dict):
        raise HarnessError(f"{where}: expected a mapping of method name -> the settings its runs share")
    presets = {}
    for name, preset in raw.items():
        method = METHODS.get(name, f"{where}.{name}")
        preset = {} if preset is None else preset
        if not isinstance(preset, dict):
            raise HarnessError(f"{where}.{name}: expected a mapping of settings ({{}}: none), got {type(preset).__name__}")
        if "method" in preset:
            raise HarnessError(f"{where}.{name}.method: the entry's key names its method; remove the key")
        validate(method.Config, {"method": name, **preset}, f"{where}.{name}")
        presets[name] = dict(preset)
    return presets


def parse_train(raw: Any, where: str, presets: dict[str, dict[str, Any]] | None = None) -> dict[str, Any]:
    """Each run's settings validated by its method's class: the method's entry under ``methods`` (``presets``), then
    the run's own keys over it."""
    from harness.core.registry import METHODS

    if not isinstance(raw, dict) or not raw:
        raise HarnessError(f"{where}: expected a mapping of run name -> method settings with at least one run")
    runs = {}
    for run, section in raw.items():
        if not isinstance(section, dict) or "method" not in section:
            raise HarnessError(f"{where}.{run}.method: required key is missing; known methods: {', '.join(METHODS.names())}")
        method = METHODS.get(section["method"], f"{where}.{run}.method")
        runs[run] = validate(method.Config, {**(presets or {}).get(section["method"], {}), **section}, f"{where}.{run}")
    return runs


def uninherited(params: Params) -> list[str]:
    """The methods that runs under ``train`` use without an entry under ``methods``: the pipelines' tune, train and
    evaluate stages depend on ``methods.<method>`` (DVC refuses a missing parameter), so each needs one (``{}``: none)."""
    return sorted({cfg.method for cfg in params.train.values()} - set(params.methods))


def parse_params(raw: Any, where: str = "params.yaml") -> Params:
    if not isinstance(raw, dict):
        raise HarnessError(f"{where}: expected a mapping at the top level")
    unknown = sorted(set(raw) - TOP_LEVEL)
    if unknown:
        raise HarnessError(f"{where}: {unknown[0]}: unknown key; allowed: {', '.join(sorted(TOP_LEVEL))}")
    seeds = raw.get("seeds", [0])
    if not isinstance(seeds, list) or not seeds or not all(isinstance(s, int) and not isinstance(s, bool) for s in seeds):
        raise HarnessError(f"{where}: seeds: expected a non-empty list of integers (got {seeds!r})")
    if len(set(seeds)) != len(seeds):
        raise HarnessError(f"{where}: seeds: duplicate seeds in {seeds!r}")
    profile = raw.get("profile", "smoke")
    if not isinstance(profile, str):
        raise HarnessError(f"{where}: profile: expected a string (got {profile!r})")
    loop = validate(LoopConfig, raw.get("loop"), f"{where}: loop")
    methods = parse_methods(raw.get("methods"), f"{where}: methods")
    train = parse_train(raw.get("train"), f"{where}: train", methods)
    for run, cfg in train.items():
        if cfg.seeds is not None and len(set(cfg.seeds)) != len(cfg.seeds):
            raise HarnessError(f"{where}: train.{run}.seeds: duplicate seeds in {cfg.seeds!r}")
    if loop.target is not None and not any(track_every(loop, cfg) for cfg in train.values()):
        raise HarnessError(f"{where}: loop.target: no run tracks a validation curve to read it off; set track_every in loop or in a run")
    return Params(
        profile=profile,
        seeds=seeds,
        model=validate(ModelConfig, raw.get("model"), f"{where}: model"),
        data=_parse_data(raw.get("data"), f"{where}: data"),
        loop=loop,
        train=train,
        tuning=validate(TuningConfig, raw.get("tuning"), f"{where}: tuning"),
        truncate=_parse_truncate(raw.get("truncate"), raw.get("train") or {}, f"{where}: truncate"),
        sweep=_parse_sweep(raw.get("sweep"), raw.get("train") or {}, f"{where}: sweep"),
        planted=_parse_planted(raw.get("planted"), f"{where}: planted"),
        causal_raw=raw.get("causal"),
        where=where,
        studies=list(raw.get("studies") or []),
        methods=methods,
    )


def seeds_of(params: Params, run: Any) -> list[int]:
    """The seeds a run runs on (``run``: its settings, ``train.<run>``, a causal run or an alignment or knowledge
    arm): its own list if it has one, else the top-level ``seeds``. The one place the fallback is written."""
    return run.seeds or params.seeds


def track_every(loop: LoopConfig, run: Any) -> int:
    """Steps between validation points for ``run``: its own ``track_every`` if set, else the loop's."""
    return loop.track_every if run.track_every is None else run.track_every


def _parse_planted(raw: Any, where: str) -> PlantedConfig | None:
    if raw is None:
        return None
    section = validate(PlantedConfig, raw, where)
    if not isinstance(section.student, dict) or section.student.get("method") != "adalora":
        method = section.student.get("method") if isinstance(section.student, dict) else None
        raise HarnessError(f"{where}.student.method: {method!r}; the benchmark judges the rank allocator: adalora")
    student = parse_train({"student": section.student}, where)["student"]
    planting = [task for task, spec in section.tasks.items() if any(spec.values())]
    if not planting:
        raise HarnessError(f"{where}.tasks: no task plants rank; give at least one task a module with rank > 0")
    if section.tune_task not in planting:
        raise HarnessError(f"{where}.tune_task: {section.tune_task!r} is not a task that plants rank; tasks: {', '.join(planting)}")
    if not section.seeds or len(set(section.seeds)) != len(section.seeds):
        raise HarnessError(f"{where}.seeds: expected distinct seeds, at least one (got {section.seeds})")
    return dataclasses.replace(section, student=student)


def _parse_sweep(raw: Any, train: dict, where: str) -> dict[str, list[str]]:
    if raw is None:
        return {}
    try:
        series = TypeAdapter(dict[str, list[str]]).validate_python(raw)
    except ValidationError:
        raise HarnessError(f"{where}: expected a mapping of series name -> list of run names") from None
    for name, runs in series.items():
        for run in runs:
            if run not in train:
                raise HarnessError(f"{where}.{name}: {run!r} is not a run under train; runs: {', '.join(train)}")
    return series


def _parse_truncate(raw: Any, train: dict, where: str) -> TruncateConfig:
    cfg = validate(TruncateConfig, raw, where)
    for run in cfg.runs:
        if run not in train:
            raise HarnessError(f"{where}.runs: {run!r} is not a run under train; runs: {', '.join(train)}")
    return cfg


def read_yaml(path: Path) -> Any:
    if not path.is_file():
        raise HarnessError(f"{path}: params file not found")
    try:
        return load_yaml(path.read_text())
    except yaml.YAMLError as err:
        raise HarnessError(f"{path}: not valid YAML ({str(err).splitlines()[0]})") from None


def with_studies(raw: Any, path: Path) -> Any:
    """``raw`` with the params of every study it lists (``studies: [atlas, ...]``) merged in. A study's file
    (``studies/<name>/params.yaml``, beside its dvc.yaml) only adds: runs, sections, keys of sections; a key it sets
    that the params already hold is an error naming both files, so every setting lives in exactly one place."""
    if not isinstance(raw, dict) or "studies" not in raw:
        return raw
    studies = raw["studies"]
    if not isinstance(studies, list) or not all(isinstance(s, str) for s in studies):
        raise HarnessError(f"{path}: studies: expected a list of study names (folders under {STUDIES}/)")
    merged, owner = dict(raw), {}
    for study in studies:
        file = path.parent / STUDIES / study / "params.yaml"
        if not file.is_file():
            known = ", ".join(sorted(p.parent.name for p in (path.parent / STUDIES).glob("*/params.yaml")))
            raise HarnessError(f"{path}: studies: no study {study!r} ({file} not found); studies: {known}")
        extra = read_yaml(file)
        if not isinstance(extra, dict):
            raise HarnessError(f"{file}: expected a mapping at the top level")
        for key in ("profile", "seeds", "studies", "model", "data", "loop", "tuning", "methods"):
            if key in extra:
                raise HarnessError(f"{file}: {key}: set in {path} only; a study adds its own runs and sections")
        _merge(merged, extra, file, owner, path)
    return merged


def _merge(into: dict, extra: dict, file: Path, owner: dict, base: Path, where: str = "") -> None:
    for key, value in extra.items():
        at = f"{where}{key}"
        if key in into and isinstance(into[key], dict) and isinstance(value, dict):
            into[key] = dict(into[key])
            _merge(into[key], value, file, owner, base, at + ".")
        elif key in into:
            raise HarnessError(f"{file}: {at}: already set in {owner.get(at, base)}; a setting lives in one file")
        else:
            into[key] = value
            owner[at] = file


def study_files(folder: Path) -> Callable[[str], Any]:
    """A study name -> its params file's content, as they are in the project at ``folder``."""
    return lambda study: read_yaml(folder / STUDIES / study / "params.yaml")


def study_paths(base: dict, study_params: Callable[[str], Any]) -> dict[str, list[tuple[str, ...]]]:
    """Study name -> the key paths its params (``study_params(name)``) add to ``base``, the default's own params
    (``("train", "lora_r2")``, ``("sweep",)``), in the order ``with_studies`` merges them."""
    merged = copy.deepcopy(base)
    added: dict[str, list[tuple[str, ...]]] = {}

    def walk(into: dict, extra: dict, study: str, at: tuple[str, ...]) -> None:
        for key, value in extra.items():
            if key in into and isinstance(into[key], dict) and isinstance(value, dict):
                walk(into[key], value, study, (*at, key))
            else:
                into[key] = value
                added.setdefault(study, []).append((*at, key))

    for study in base.get("studies") or []:
        added.setdefault(study, [])
        walk(merged, study_params(study) or {}, study, ())
    return added


def split_params(raw: dict, base: dict, study_params: Callable[[str], Any]) -> tuple[dict, dict[str, dict | None]]:
    """A complete params dict (a profile, a test's shrunk config) laid out as a project lays out its own (``base``:
    its params.yaml, ``study_params``: its studies' files): what each study adds goes to that study's file, the rest
    stays, with the
    ``studies`` list. A study of which ``raw`` holds nothing is None (its pipeline cannot run on these params); one
    that holds part of it keeps the sections its pipeline iterates, empty (``train: {}``), so its dvc.yaml resolves."""
    raw = copy.deepcopy(raw)
    paths = study_paths(base, study_params)
    studies: dict[str, dict | None] = {}
    for study in reversed(list(paths)):  # a later study's keys sit inside an earlier one's section (causal.align)
        mine: dict = {}
        found = False
        for keys in paths[study]:
            node: Any = raw
            for key in keys[:-1]:
                node = node.get(key, {}) if isinstance(node, dict) else {}
            target = mine
            for key in keys[:-1]:
                target = target.setdefault(key, {})
            if isinstance(node, dict) and keys[-1] in node:
                target[keys[-1]] = node.pop(keys[-1])
                found = True
        studies[study] = mine if found else None
    raw["studies"] = [s for s in paths if studies[s] is not None]
    return raw, {s: studies[s] for s in paths}


def load_params(path: str | Path = "params.yaml") -> Params:
    path = Path(path)
    return parse_params(with_studies(read_yaml(path), path), str(path))
