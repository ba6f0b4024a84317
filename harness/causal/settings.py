"""The causal-LM track's settings (``params.yaml: causal``), beside the track that reads them: the base model
(the offline stand-in's architecture and pretraining), the data, decoding, and the SFT-then-DPO runs.
The section is kept as written by :func:`harness.core.config.load_params` and parsed here, by the stages that read
it (:func:`causal_of`), so an edit of this file reruns the causal track and the reports, nothing else.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.config import LoopConfig, Params, parse_train
from harness.core.errors import HarnessError
from harness.core.registry import CAUSAL_TASKS, METHODS
from harness.core.schema import STRICT, NonNegInt, PositiveInt, validate


@dataclass(config=STRICT)
class StandinConfig:
    """The offline causal base model (``causal.model: standin``): GPT-2 architecture built from this config,
    a byte-level BPE tokenizer trained on the built-in corpus, then ``pretrain_steps`` of language modelling
    on that corpus so that the adapters have a pretrained model to adapt (LoRA on random weights is not LoRA)."""

    n_layer: PositiveInt = 4
    n_embd: PositiveInt = 128
    n_head: PositiveInt = 4
    n_positions: PositiveInt = 256
    vocab_size: typing.Annotated[int, Field(ge=300)] = 2048
    corpus_size: PositiveInt = 20000  # built-in sentences (tokenizer training and pretraining)
    pretrain_steps: NonNegInt = 400
    pretrain_batch_size: PositiveInt = 32
    pretrain_lr: typing.Annotated[float, Field(gt=0)] = 1e-3
    seed: int = 0

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")


@dataclass(config=STRICT)
class DecodingConfig:
    """Beam search for generation tasks; the defaults are the LoRA paper's E2E decoding (its Table 11)."""

    num_beams: PositiveInt = 10
    length_penalty: float = 0.9
    no_repeat_ngram_size: NonNegInt = 4
    max_new_tokens: PositiveInt = 64


@dataclass(config=STRICT)
class CausalHubConfig:
    """A hub dataset; ``None`` keeps the task's own default (E2E: e2e_nlg, language modelling: WikiText-2)."""

    path: str | None = None
    name: str | None = None
    train_split: str = "train"
    test_split: str = "test"


@dataclass(config=STRICT)
class CausalLocalConfig:
    """Local files: ``.jsonl`` in the task's schema, ``.csv`` with E2E's ``mr,ref`` columns, or ``.txt``
    (language modelling: documents separated by blank lines)."""

    train: str | None = None
    test: str | None = None


@dataclass(config=STRICT)
class CausalDataConfig:
    source: Literal["generated", "hub", "local"] = "generated"
    train_size: NonNegInt = 0  # 0 = the whole split; else a seeded subset
    test_size: NonNegInt = 0
    subset_seed: int = 0
    # the task's generator settings: a mapping in params.yaml; after loading, validated by the task's own class
    generated: Any = dataclasses.field(default_factory=dict)
    hub: CausalHubConfig = dataclasses.field(default_factory=CausalHubConfig)
    local: CausalLocalConfig = dataclasses.field(default_factory=CausalLocalConfig)


@dataclass(config=STRICT)
class AlignRun:
    """One SFT-then-DPO row: supervised fine-tuning with causal run ``sft_run``'s method, adapter and
    learning rate (``causal.loop``'s steps and batch, as that run trains), then DPO from that model::

        sft_dpo_lora:
          sft_run: lora_all     # SFT as causal.runs.lora_all (LoRA r=8 on every linear layer, lr 5e-3)
          dpo_lr: 5.0e-4        # DPO continues the same adapter against a frozen copy of it
    """

    sft_run: str
    dpo_lr: typing.Annotated[float, Field(gt=0)]
    seeds: typing.Annotated[list[int], Field(min_length=1)] | None = None


@dataclass(config=STRICT)
class PreferenceSource:
    """Where DPO's preference pairs come from (``causal.align.preference``)::

        source: generated       # from the task's own MRs (the default: offline, judged by the attribute judge)
        source: hub             # a preference set by name, for users with a network
        name: trl-lib/ultrafeedback_binarized
        train_split: train
        test_split: test
        limit: 2000             # the first `limit` rows of each split (none = all)

    A hub set replaces the pairs DPO trains and is scored on (its own test split: preference and reward accuracy);
    SFT and the attribute judge still read the E2E task."""

    source: Literal["generated", "hub"] = "generated"
    name: str | None = None
    train_split: str = "train"
    test_split: str = "test"
    limit: PositiveInt | None = None

    def __post_init__(self) -> None:
        if (self.source == "hub") != (self.name is not None):
            raise ValueError("name: the hub set's name is needed with source hub and only then")


@dataclass(config=STRICT)
class AlignConfig:
    """SFT, then DPO from the SFT model, through trl (``causal.align``; the atlas's "SFT / RLHF / DPO" row).
    Preference pairs come from the task's own training MRs (harness/causal/preference.py): ``pairs_per_mr``
    per MR, alternately one attribute dropped and one contradicted; the test MRs give the held-out pairs. Or from
    a hub preference set (``preference``)."""

    runs: dict[str, AlignRun]
    preference: PreferenceSource = dataclasses.field(default_factory=PreferenceSource)
    dpo_steps: PositiveInt = 150
    dpo_batch_size: PositiveInt = 16
    beta: typing.Annotated[float, Field(gt=0)] = 0.1  # the DPO paper's default KL strength
    pairs_per_mr: PositiveInt = 2
    pairs_seed: int = 0
    max_new_tokens: PositiveInt = 64  # greedy outputs the attribute judge reads


@dataclass(config=STRICT)
class KnowledgeArm:
    """One row of the knowledge-update table: the model (causal run ``run`` fine-tuned on the store's facts as they
    were, with the same kind of context in its training prompts; or the untrained base model when ``run`` is
    omitted) and the context its prompts carry (harness/causal/knowledge.py)::

        lora_rag:
          run: lora_all         # LoRA as causal.runs.lora_all, trained with retrieved documents in its prompts
          context: retrieved    # none | random (k documents at random) | retrieved (BM25's k best)
    """

    context: typing.Literal["none", "random", "retrieved"]
    run: str | None = None
    # the context of the training prompts, if not ``context``: a model trained to read retrieved documents, asked
    # with random ones, tells how much of its answer the retrieval gives
    train_context: typing.Literal["none", "random", "retrieved"] | None = None
    seeds: typing.Annotated[list[int], Field(min_length=1)] | None = None


@dataclass(config=STRICT)
class KnowledgeConfig:
    """The knowledge-update task (``causal.knowledge``; stage ``causal_knowledge@<arm>``): E2E's venues with fixed
    facts, ``changed`` of them updated after training, every arm asked to describe every venue."""

    arms: dict[str, KnowledgeArm]
    changed: PositiveInt = 15  # venues whose one fact changes after training
    references: PositiveInt = 3  # training descriptions per venue
    k: PositiveInt = 3  # documents in a prompt with context, retrieved or random alike
    seed: int = 0  # facts, changes and the store's phrasings
    max_new_tokens: PositiveInt = 48  # greedy answers the judge reads


@dataclass(config=STRICT)
class RagConfig:
    """Retrieved demonstrations on data-to-text (``causal.rag``; stage ``causal_rag@<model>``): each test MR's
    ``icl_shots`` nearest training examples (BM25) fill the prompt instead of random ones. ``models`` names the
    untrained base model (``base``, compared with the in-context row) and causal runs whose trained models are asked
    the same way; ``[]``: none (a profile whose paper has no retrieval)."""

    models: list[str]


@dataclass(config=STRICT)
class CausalConfig:
    """The causal-LM track: one base model, one task, runs of causal-capable methods, and the in-context
    (no-training) row, evaluated through lm-eval. ``runs`` and ``loop`` are mappings in params.yaml; after
    loading, each run's settings are validated by its method's own class and ``loop`` is a LoopConfig."""

    runs: Any  # run name -> method settings, as under ``train`` (methods that support causal LMs)
    loop: Any  # a LoopConfig for this track
    model: str = "standin"  # standin (built offline) | a hub id (gpt2, gpt2-medium, gpt2-large) | a local directory
    dtype: Literal["float32", "bfloat16", "float16"] = "float32"
    max_length: PositiveInt = 256  # training sequences are cut here; lm-eval's context window
    task: str = "e2e"  # a registered causal task (harness/causal/tasks)
    data: CausalDataConfig = dataclasses.field(default_factory=CausalDataConfig)
    standin: StandinConfig = dataclasses.field(default_factory=StandinConfig)
    decoding: DecodingConfig = dataclasses.field(default_factory=DecodingConfig)
    icl_shots: NonNegInt = 3  # demonstrations from the training split in the in-context row
    eval_batch_size: PositiveInt = 16
    align: AlignConfig | None = None
    knowledge: KnowledgeConfig | None = None
    rag: RagConfig | None = None


def causal_of(params: Params) -> CausalConfig | None:
    """``params``' causal section, parsed and validated on first use (None: the params have none)."""
    if "causal" not in params.parsed:
        params.parsed["causal"] = parse_causal(params.causal_raw, f"{params.where}: causal")
    return params.parsed["causal"]


def causal_section(params: Params) -> CausalConfig:
    """The causal section of a stage that needs one: an error naming the section when it is missing."""
    causal = causal_of(params)
    if causal is None:
        raise HarnessError(f"{params.where}: causal: section missing (the causal-LM track's model, task and runs)")
    return causal


def causal_run(params: Params, run: str):
    """The causal track's settings, run ``run``'s method and its settings."""
    causal = causal_section(params)
    if run not in causal.runs:
        raise HarnessError(f"{params.where}: causal.runs.{run}: no such run; runs: {', '.join(causal.runs)}")
    cfg = causal.runs[run]
    return causal, METHODS.get(cfg.method)(), cfg


def parse_causal(raw: Any, where: str) -> CausalConfig | None:
    """The ``causal`` section validated: each run by its method's class (a causal-capable one), the task's
    generator settings by the task's class, and the names the align, knowledge and rag parts refer to."""
    if raw is None:
        return None
    section = validate(CausalConfig, raw, where)
    task = CAUSAL_TASKS.get(section.task)
    runs = parse_train(section.runs, f"{where}.runs")
    if "icl" in runs:
        raise HarnessError(f"{where}.runs.icl: the name icl is the in-context row (causal.icl_shots); rename the run")
    for run, cfg in runs.items():
        if not METHODS.get(cfg.method).causal_lm:
            raise HarnessError(f"{where}.runs.{run}.method: {cfg.method!r} has no causal-LM support; supported: "
                               + ", ".join(n for n in METHODS.names() if METHODS.get(n).causal_lm))
    if section.data.source == "local" and not (section.data.local.train and section.data.local.test):
        raise HarnessError(f"{where}.data.local: source local needs both train and test files")
    if section.align is not None:
        _check_align(section.align, runs, section.task, f"{where}.align")
    if section.knowledge is not None:
        _check_knowledge(section.knowledge, runs, section.align, f"{where}.knowledge")
    if section.rag is not None:
        _check_rag(section.rag, runs, task.kind, section.task, f"{where}.rag")
    generated = validate(task.Generated, section.data.generated, f"{where}.data.generated")
    return dataclasses.replace(section, runs=runs, loop=validate(LoopConfig, section.loop, f"{where}.loop"),
                               data=dataclasses.replace(section.data, generated=generated))


def _check_align(align: AlignConfig, runs: dict[str, Any], task: str, where: str) -> None:
    if align.runs and task != "e2e":
        raise HarnessError(f"{where}: preference pairs are built from E2E meaning representations; causal.task is {task!r}, allowed: e2e")
    for name, run in align.runs.items():
        if name in runs or name == "icl":
            raise HarnessError(f"{where}.runs.{name}: the name is taken by a causal run (or the in-context row); rename it")
        if run.sft_run not in runs:
            raise HarnessError(f"{where}.runs.{name}.sft_run: {run.sft_run!r} is not a run under causal.runs; runs: {', '.join(runs)}")


def _check_knowledge(knowledge: KnowledgeConfig, runs: dict[str, Any], align: AlignConfig | None, where: str) -> None:
    taken = {*runs, "icl", *(align.runs if align else ())}
    for name, arm in knowledge.arms.items():
        if name in taken:
            raise HarnessError(f"{where}.arms.{name}: the name is taken by a causal run, the in-context row or an SFT-then-DPO run; rename it")
        if arm.run is not None and arm.run not in runs:
            raise HarnessError(f"{where}.arms.{name}.run: {arm.run!r} is not a run under causal.runs; runs: {', '.join(runs)}")


def rag_names(causal: CausalConfig) -> list[str]:
    return [rag_name(m) for m in causal.rag.models] if causal.rag else []


def rag_name(model: str) -> str:
    """The causal_eval result name of ``model`` (``base`` or a causal run) asked with retrieved demonstrations."""
    return f"{model}_rag"


def _check_rag(rag: RagConfig, runs: dict[str, Any], kind: str, task: str, where: str) -> None:
    if rag.models and kind != "data_to_text":
        raise HarnessError(f"{where}: demonstrations are retrieved by meaning representation; causal.task {task!r} has none, allowed: a data-to-text task (e2e)")
    for i, model in enumerate(rag.models):
        if model != "base" and model not in runs:
            raise HarnessError(f"{where}.models.{i}: {model!r} is neither base nor a run under causal.runs; runs: {', '.join(runs)}")
        if rag_name(model) in runs:
            raise HarnessError(f"{where}.models.{i}: its result name {rag_name(model)!r} is taken by a causal run; rename that run")
