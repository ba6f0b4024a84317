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
from harness.core.schema import STRICT, NonNegInt, PositiveInt, setting, validate


@dataclass(config=STRICT)
class StandinConfig:
    """The offline causal base model (``causal.model: standin``): GPT-2 architecture built from this config,
    a byte-level BPE tokenizer trained on the built-in corpus, then ``pretrain_steps`` of language modelling
    on that corpus so that the adapters have a pretrained model to adapt (LoRA on random weights is not LoRA)."""

    n_layer: PositiveInt = setting(4, help="transformer blocks")
    n_embd: PositiveInt = setting(128, help="hidden size")
    n_head: PositiveInt = setting(4, help="attention heads (n_embd must be a multiple)")
    n_positions: PositiveInt = setting(256, help="the longest sequence")
    vocab_size: typing.Annotated[int, Field(ge=300)] = setting(2048, help="the byte-level BPE tokenizer's vocabulary")
    corpus_size: PositiveInt = setting(20000, help="built-in sentences (tokenizer training and pretraining)")
    pretrain_steps: NonNegInt = setting(400, help="language-modelling steps on that corpus")
    pretrain_batch_size: PositiveInt = setting(32, help="pretraining sequences per step")
    pretrain_lr: typing.Annotated[float, Field(gt=0)] = setting(1e-3, help="pretraining learning rate")
    seed: int = setting(0, help="the seed of the corpus, the initial weights and pretraining")

    def __post_init__(self) -> None:
        if self.n_embd % self.n_head:
            raise ValueError(f"n_embd ({self.n_embd}) must be a multiple of n_head ({self.n_head})")


@dataclass(config=STRICT)
class DecodingConfig:
    """Beam search for generation tasks; the defaults are the LoRA paper's E2E decoding (its Table 11)."""

    num_beams: PositiveInt = setting(10, help="beam width")
    length_penalty: float = setting(0.9, help="beam search's length penalty")
    no_repeat_ngram_size: NonNegInt = setting(4, help="no n-gram of this size repeats (0: off)")
    max_new_tokens: PositiveInt = setting(64, help="tokens generated at most")


@dataclass(config=STRICT)
class CausalHubConfig:
    """A hub dataset; ``None`` keeps the task's own default (E2E: e2e_nlg, language modelling: WikiText-2)."""

    path: str | None = setting(None, help="the dataset's hub id (null: the task's own default)")
    name: str | None = setting(None, help="its configuration")
    train_split: str = setting("train", help="the split trained on")
    test_split: str = setting("test", help="the split reported on")


@dataclass(config=STRICT)
class CausalLocalConfig:
    """Local files: ``.jsonl`` in the task's schema, ``.csv`` with E2E's ``mr,ref`` columns, or ``.txt``
    (language modelling: documents separated by blank lines)."""

    train: str | None = setting(None, help="the training file (.jsonl in the task's schema, .csv with mr,ref columns, or .txt)")
    test: str | None = setting(None, help="the test file, of the same kind")


@dataclass(config=STRICT)
class CausalDataConfig:
    source: Literal["generated", "hub", "local"] = setting("generated", help="generated (by the task's own generator: offline), hub, or local files")
    train_size: NonNegInt = setting(0, help="training examples kept (0: the whole split; else a seeded subset)")
    test_size: NonNegInt = setting(0, help="test examples kept (0: all)")
    subset_seed: int = setting(0, help="the seed of the subsets")
    generated: Any = setting(factory=dict, help="the task's generator settings (validated by the task's own class)")
    hub: CausalHubConfig = setting(factory=CausalHubConfig, help="the hub dataset, with source hub")
    local: CausalLocalConfig = setting(factory=CausalLocalConfig, help="the local files, with source local")


@dataclass(config=STRICT)
class AlignRun:
    """One SFT-then-DPO row: supervised fine-tuning with causal run ``sft_run``'s method, adapter and
    learning rate (``causal.loop``'s steps and batch, as that run trains), then DPO from that model::

        sft_dpo_lora:
          sft_run: lora_all     # SFT as causal.runs.lora_all (LoRA r=8 on every linear layer, lr 5e-3)
          dpo_lr: 5.0e-4        # DPO continues the same adapter against a frozen copy of it
    """

    sft_run: str = setting(help="the causal run whose method, adapter and lr SFT uses")
    dpo_lr: typing.Annotated[float, Field(gt=0)] = setting(help="DPO's learning rate")
    seeds: typing.Annotated[list[int], Field(min_length=1)] | None = setting(None, help="this row's seeds; null: the top-level seeds")


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

    source: Literal["generated", "hub"] = setting("generated", help="generated: pairs from the task's own MRs (offline); hub: a preference set by name")
    name: str | None = setting(None, help="the hub set's name (with source hub only)")
    train_split: str = setting("train", help="the hub set's training split")
    test_split: str = setting("test", help="the hub set's held-out split")
    limit: PositiveInt | None = setting(None, help="the first rows of each split kept (null: all)")

    def __post_init__(self) -> None:
        if (self.source == "hub") != (self.name is not None):
            raise ValueError("name: the hub set's name is needed with source hub and only then")


@dataclass(config=STRICT)
class AlignConfig:
    """SFT, then DPO from the SFT model, through trl (``causal.align``; the atlas's "SFT / RLHF / DPO" row).
    Preference pairs come from the task's own training MRs (harness/causal/preference.py): ``pairs_per_mr``
    per MR, alternately one attribute dropped and one contradicted; the test MRs give the held-out pairs. Or from
    a hub preference set (``preference``)."""

    runs: dict[str, AlignRun] = setting(help="row name -> an SFT-then-DPO run")
    preference: PreferenceSource = setting(factory=PreferenceSource, help="where the preference pairs come from")
    dpo_steps: PositiveInt = setting(150, help="DPO optimizer steps")
    dpo_batch_size: PositiveInt = setting(16, help="preference pairs per DPO step")
    beta: typing.Annotated[float, Field(gt=0)] = setting(0.1, help="DPO's KL strength (the DPO paper's default)")
    pairs_per_mr: PositiveInt = setting(2, help="preference pairs built per training MR")
    pairs_seed: int = setting(0, help="the seed of the pairs")
    max_new_tokens: PositiveInt = setting(64, help="greedy output tokens the attribute judge reads")


@dataclass(config=STRICT)
class KnowledgeArm:
    """One row of the knowledge-update table: the model (causal run ``run`` fine-tuned on the store's facts as they
    were, with the same kind of context in its training prompts; or the untrained base model when ``run`` is
    omitted) and the context its prompts carry (harness/causal/knowledge.py)::

        lora_rag:
          run: lora_all         # LoRA as causal.runs.lora_all, trained with retrieved documents in its prompts
          context: retrieved    # none | random (k documents at random) | retrieved (BM25's k best)
    """

    context: typing.Literal["none", "random", "retrieved"] = setting(help=(
        "the context the prompts carry: none, random (k documents at random) or retrieved (BM25's k best)"))
    run: str | None = setting(None, help="the causal run fine-tuned on the store's facts as they were; null: the untrained base model")
    train_context: typing.Literal["none", "random", "retrieved"] | None = setting(None, help=(
        "the training prompts' context, if not context (a model trained on retrieved documents asked with random ones)"))
    seeds: typing.Annotated[list[int], Field(min_length=1)] | None = setting(None, help="this arm's seeds; null: the top-level seeds")


@dataclass(config=STRICT)
class KnowledgeConfig:
    """The knowledge-update task (``causal.knowledge``; stage ``causal_knowledge@<arm>``): E2E's venues with fixed
    facts, ``changed`` of them updated after training, every arm asked to describe every venue."""

    arms: dict[str, KnowledgeArm] = setting(help="arm name -> a knowledge arm")
    changed: PositiveInt = setting(15, help="venues whose one fact changes after training")
    references: PositiveInt = setting(3, help="training descriptions per venue")
    k: PositiveInt = setting(3, help="documents in a prompt with context, retrieved or random alike")
    seed: int = setting(0, help="the seed of the facts, the changes and the store's phrasings")
    max_new_tokens: PositiveInt = setting(48, help="greedy answer tokens the judge reads")


@dataclass(config=STRICT)
class RagConfig:
    """Retrieved demonstrations on data-to-text (``causal.rag``; stage ``causal_rag@<model>``): each test MR's
    ``icl_shots`` nearest training examples (BM25) fill the prompt instead of random ones. ``models`` names the
    untrained base model (``base``, compared with the in-context row) and causal runs whose trained models are asked
    the same way; ``[]``: none (a profile whose paper has no retrieval)."""

    models: list[str] = setting(help="base and causal runs asked with retrieved demonstrations; []: none")


@dataclass(config=STRICT)
class CausalConfig:
    """The causal-LM track: one base model, one task, runs of causal-capable methods, and the in-context
    (no-training) row, evaluated through lm-eval. ``runs`` and ``loop`` are mappings in params.yaml; after
    loading, each run's settings are validated by its method's own class and ``loop`` is a LoopConfig."""

    runs: Any = setting(help="run name -> method settings, as under train (causal-capable methods only)")
    loop: Any = setting(help="the track's loop settings (as the top-level loop)")
    model: str = setting("standin", help="standin (built offline), a hub id (gpt2, gpt2-medium, gpt2-large) or a local directory")
    dtype: Literal["float32", "bfloat16", "float16"] = setting("float32", help="the dtype the base model's weights are loaded in")
    max_length: PositiveInt = setting(256, help="training sequences are cut here; lm-eval's context window")
    task: str = setting("e2e", help="a registered causal task (harness/causal/tasks)")
    data: CausalDataConfig = setting(factory=CausalDataConfig, help="the task's data")
    standin: StandinConfig = setting(factory=StandinConfig, help="the offline stand-in model")
    decoding: DecodingConfig = setting(factory=DecodingConfig, help="beam search for generation tasks (the LoRA paper's E2E decoding)")
    icl_shots: NonNegInt = setting(3, help="demonstrations from the training split in the in-context row")
    eval_batch_size: PositiveInt = setting(16, help="examples per forward pass when scoring")
    align: AlignConfig | None = setting(None, help="SFT then DPO (null: none)")
    knowledge: KnowledgeConfig | None = setting(None, help="the knowledge-update task (null: none)")
    rag: RagConfig | None = setting(None, help="retrieved demonstrations (null: none)")


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
