"""Causal-LM training examples: (context, completion) pairs tokenised with the loss on the completion,
and the collator that pads them (labels padded with -100, ignored by the loss)."""

from __future__ import annotations

import json
from typing import Any

from datasets import Dataset
from transformers import DataCollatorForSeq2Seq

from harness.core.errors import HarnessError
from harness.core.paths import CAUSAL_DATA

IGNORE = -100


def read_rows(split: str) -> list[dict[str, Any]]:
    """The prepared rows of one split (``data/causal/<split>.jsonl``, written by the causal_data stage)."""
    path = CAUSAL_DATA / f"{split}.jsonl"
    if not path.is_file():
        raise HarnessError(f"{path}: causal data not found; run the causal_data stage first (dvc repro causal_data)")
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


def tokenize_pairs(pairs: list[tuple[str, str]], tokenizer, max_length: int) -> Dataset:
    """``context + completion + eos`` cut to ``max_length``; labels -100 on the context, so the model
    learns to write the completion, not to predict the meaning representation it is given. Without a
    context (language modelling) the text is split into ``max_length`` blocks instead of cut."""
    rows = {"input_ids": [], "attention_mask": [], "labels": []}

    def add(ids: list[int], labels: list[int]) -> None:
        rows["input_ids"].append(ids)
        rows["attention_mask"].append([1] * len(ids))
        rows["labels"].append(labels)

    for context, completion in pairs:
        ctx = tokenizer(context, add_special_tokens=False)["input_ids"] if context else []
        out = tokenizer(completion, add_special_tokens=False)["input_ids"] + [tokenizer.eos_token_id]
        if ctx:
            add((ctx + out)[:max_length], ([IGNORE] * len(ctx) + out)[:max_length])
        else:  # language modelling: a long document becomes consecutive blocks, none of it dropped
            for i in range(0, len(out), max_length):
                add(out[i : i + max_length], out[i : i + max_length])
    return Dataset.from_dict(rows)


def collator(tokenizer) -> DataCollatorForSeq2Seq:
    return DataCollatorForSeq2Seq(tokenizer, label_pad_token_id=IGNORE, padding=True)
