"""The causal-LM track's settings (``params.yaml: causal``), beside the track that reads them: the base model
(the offline stand-in's architecture and pretraining), the data, decoding, and the SFT-then-DPO runs.
A leaf (pydantic and the shared schema only): ``harness.core.config`` validates ``causal`` into :class:`CausalConfig`.
"""

from __future__ import annotations

import dataclasses
import typing
from typing import Any, Literal

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.schema import STRICT, NonNegInt, PositiveInt


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
