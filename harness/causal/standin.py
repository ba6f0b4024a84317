"""The offline causal base model: GPT-2's architecture at a size a CPU trains in minutes, with a
byte-level BPE tokenizer (GPT-2's scheme) trained on the built-in corpus, both built without a network.

Why pretrain at all: LoRA's premise is a pretrained model whose task update is low-rank; on random
weights a rank-8 update has nothing to adapt and full fine-tuning wins by construction. A few hundred
steps of language modelling on unpaired built-in text (restaurant descriptions and, separately, meaning
representations) give the stand-in the "language" but not the MR -> sentence mapping the task teaches.
"""

from __future__ import annotations

import random

from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

from harness.causal.settings import StandinConfig
from harness.causal.tasks.e2e import format_mr, random_mr, realise

EOS = "<|endoftext|>"


def builtin_corpus(n: int, seed: int) -> list[str]:
    """``n`` documents: restaurant descriptions, and every fourth one a bare meaning representation."""
    rng = random.Random(seed)
    docs = []
    for i in range(n):
        mr = random_mr(rng)
        docs.append(format_mr(mr) if i % 4 == 3 else realise(mr, rng))
    return docs


def train_tokenizer(corpus: list[str], vocab_size: int) -> PreTrainedTokenizerFast:
    """GPT-2's tokenizer scheme (byte-level BPE, one ``<|endoftext|>`` special token) fitted to ``corpus``."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=vocab_size, special_tokens=[EOS], initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False
    )
    tok.train_from_iterator(corpus, trainer)
    return PreTrainedTokenizerFast(tokenizer_object=tok, bos_token=EOS, eos_token=EOS, unk_token=EOS, pad_token=EOS)


def build_model(cfg: StandinConfig, tokenizer: PreTrainedTokenizerFast) -> GPT2LMHeadModel:
    """A freshly initialised GPT-2 (seed the RNGs first: the init draws from them)."""
    eos = tokenizer.convert_tokens_to_ids(EOS)
    config = GPT2Config(
        vocab_size=len(tokenizer), n_positions=cfg.n_positions, n_embd=cfg.n_embd, n_layer=cfg.n_layer, n_head=cfg.n_head,
        bos_token_id=eos, eos_token_id=eos, pad_token_id=eos,
    )
    return GPT2LMHeadModel(config)
