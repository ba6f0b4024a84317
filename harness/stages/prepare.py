"""Stage ``prepare``: dataset -> validated, subsetted, tokenised splits (train, validation, test) with a content hash.

A source without a validation split gets one carved from its training split (``data.validation_size``
examples drawn with ``data.subset_seed``, removed from train), so that settings are chosen on examples that
are neither trained on nor reported: SST-2's dev set then serves as the test set.

Outputs ``data/prepared`` (DVC cache: the tokenised splits and the tokenizer that made them) and
``results/prepare.json`` (git: sizes, label counts, hashes, the majority-class baseline).
"""

from __future__ import annotations

import hashlib
import json
import logging
import math
from collections import Counter
from typing import Any

from datasets import DatasetDict, Value

from harness.core.config import DataConfig, Params, load_params
from harness.core.errors import HarnessError
from harness.core.io import atomic_dir, write_json
from harness.core.paths import META_FILE, PREPARE_SUMMARY, PREPARED, SPLITS_DIR, TOKENIZER_DIR
from harness.core.provenance import record, sha256_file
from harness.core.registry import SOURCES
from harness.data.base import LABEL, PAIR, REQUIRED, SPLITS, TEXT
from harness.engine.models import load_tokenizer

log = logging.getLogger("harness.prepare")


def check_splits(splits: DatasetDict, data: DataConfig, where: str) -> None:
    """Every split present and non-empty, text non-null, every label inside the declared set (of the declared
    kind: integers, or names)."""
    allowed = set(data.labels)
    kind = str if isinstance(data.labels[0], str) else int
    regression = data.task == "regression"
    for split in splits:
        if split not in SPLITS:
            raise HarnessError(f"{where}: source {data.source!r} returned a split {split!r}; splits: {', '.join(SPLITS)}")
    for split in [s for s in SPLITS if s in splits or s in REQUIRED]:
        if split not in splits or len(splits[split]) == 0:
            raise HarnessError(f"{where}: the {split} split of source {data.source!r} is empty")
        ds = splits[split]
        for i, label in enumerate(ds[LABEL]):
            if regression:
                if isinstance(label, bool) or not isinstance(label, (int, float)) or not math.isfinite(label):
                    raise HarnessError(f"{where}.task: regression: {split} row {i} has label {label!r}, not a finite number")
                continue
            if isinstance(label, bool) or not isinstance(label, kind) or label not in allowed:
                raise HarnessError(
                    f"{where}.labels: {split} row {i} has label {label!r}, outside the declared labels {list(data.labels)}"
                )
        for column in (TEXT, PAIR):
            if column in ds.column_names and any(t is None or t == "" for t in ds[column]):
                row = next(i for i, t in enumerate(ds[column]) if t is None or t == "")
                raise HarnessError(f"{where}: {split} row {row} has an empty {column}")


def carve_validation(splits: DatasetDict, data: DataConfig, where: str) -> tuple[DatasetDict, str]:
    """The source's validation split, or ``data.validation_size`` examples moved out of train (seeded by
    ``data.subset_seed``); with where it came from, for ``prepare.json``."""
    if "validation" in splits:
        return splits, "source"
    train = splits["train"]
    n = data.validation_size
    if n >= len(train):
        raise HarnessError(f"{where}.validation_size: {n} is not below the {len(train)} training examples it is carved from")
    order = train.shuffle(seed=data.subset_seed)
    carved = {"train": order.select(range(n, len(train))), "validation": order.select(range(n)), "test": splits["test"]}
    return DatasetDict(carved), f"carved from train ({n} examples, seed {data.subset_seed})"


def subset(splits: DatasetDict, data: DataConfig) -> DatasetDict:
    """Deterministic subsets of train and test (seeded by ``data.subset_seed``); size 0 keeps the whole split."""
    sizes = {"train": data.train_size, "validation": 0, "test": data.eval_size}
    out = {}
    for split in SPLITS:
        ds, n = splits[split], sizes[split]
        out[split] = ds.shuffle(seed=data.subset_seed).select(range(n)) if 0 < n < len(ds) else ds
    return DatasetDict(out)


def content_hash(ds) -> str:
    """sha256 of the examples themselves (text, pair, label in order), independent of file layout."""
    h = hashlib.sha256()
    columns = [c for c in (TEXT, PAIR, LABEL) if c in ds.column_names]
    for row in zip(*(ds[c] for c in columns)):
        h.update(json.dumps(row, ensure_ascii=False).encode())
        h.update(b"\n")
    return h.hexdigest()


def tokenize(splits: DatasetDict, tokenizer, max_length: int, labels: list[int] | list[str], regression: bool = False) -> DatasetDict:
    """Token ids plus the class index of each label (its position in ``data.labels``), or for regression the
    score itself (a float32 column)."""
    index = {label: i for i, label in enumerate(labels)}
    if regression:  # a score is its own target
        splits = DatasetDict({s: ds.cast_column(LABEL, Value("float32")) for s, ds in splits.items()})
        index = {score: score for ds in splits.values() for score in ds[LABEL]}
    elif isinstance(labels[0], str):  # names -> ids first, so the label column the model reads holds integers
        splits = DatasetDict({
            s: ds.map(lambda b: {"label_id": [index[label] for label in b[LABEL]]}, batched=True).remove_columns(LABEL).rename_column("label_id", LABEL)
            for s, ds in splits.items()
        })
        index = {i: i for i in range(len(labels))}

    def encode(batch):
        pair = batch[PAIR] if PAIR in batch else None
        encoded = tokenizer(batch[TEXT], pair, truncation=True, max_length=max_length)
        encoded[LABEL] = [index[label] for label in batch[LABEL]]
        return encoded

    keep = {LABEL}
    return DatasetDict(
        {
            s: ds.map(encode, batched=True, remove_columns=[c for c in ds.column_names if c not in keep], desc=f"tokenize {s}")
            .rename_column(LABEL, "labels")
            for s, ds in splits.items()
        }
    )


def standardize_targets(tokenized: DatasetDict) -> tuple[DatasetDict, dict[str, float]]:
    """A regression task's training targets standardised with the training split's own mean and standard
    deviation (scikit-learn's StandardScaler on y), the map recorded so a prediction reads back as a score
    (``mean + std * output``). Why: a freshly initialised one-output head predicts about 0 while STS-B's scores sit
    near 2.7 with a spread of 1.5, so the mean-squared error's gradient is mostly the offset, and an adapter run at a
    learning rate that suits its adapters moved the head too little to fit it in a few hundred steps (LoRA on STS-B:
    Pearson 26 on validation after 300 steps, 78 with standardised targets). Validation and test keep their scores as
    written: every regression metric is a correlation (``on_scores``), unchanged by an affine map of the predictions."""
    y = tokenized["train"]["labels"]
    mean = sum(y) / len(y)
    std = math.sqrt(sum((v - mean) ** 2 for v in y) / len(y))
    if std == 0:
        raise HarnessError("params.yaml: data.task: regression: every training score is the same; nothing to fit")
    train = tokenized["train"].map(lambda b: {"labels": [(v - mean) / std for v in b["labels"]]}, batched=True,
                                    features=tokenized["train"].features, desc="standardize train targets")
    return DatasetDict({**tokenized, "train": train}), {"mean": mean, "std": std}


def summarize(
    splits: DatasetDict, data: DataConfig, validation_from: str, hashes: dict[str, str], files: dict[str, str]
) -> dict[str, Any]:
    if data.task == "regression":  # scores, not classes: their range and mean; no majority class
        labels = {"task": "regression", "label_stats": {s: {"min": min(ds[LABEL]), "mean": sum(ds[LABEL]) / len(ds), "max": max(ds[LABEL])} for s, ds in splits.items()}}
        majority = None
    else:
        counts = {s: dict(sorted(Counter(ds[LABEL]).items())) for s, ds in splits.items()}
        labels = {"label_counts": {s: {str(k): v for k, v in c.items()} for s, c in counts.items()}}
        if isinstance(data.labels[0], str):  # label names (RTE's entailment) -> the class ids the model predicts
            labels["label_ids"] = {label: i for i, label in enumerate(data.labels)}
        majority = 100.0 * max(counts["test"].values()) / sum(counts["test"].values())
    return {
        "source": data.source,
        "validation_from": validation_from,
        "sizes": {s: len(ds) for s, ds in splits.items()},
        **labels,
        "majority_class_test_accuracy": majority,
        "content_sha256": hashes,
        "file_sha256": files,
    }


def run(params: Params) -> dict[str, Any]:
    where = "params.yaml: data"
    data = params.data
    source = SOURCES.get(data.source)()
    log.info("prepare: source %s, model tokenizer %s", data.source, params.model.name)
    splits = source.load(data.source_options, f"{where}.{data.source}")
    check_splits(splits, data, where)
    splits, validation_from = carve_validation(splits, data, where)
    splits = subset(splits, data)
    hashes = {s: content_hash(ds) for s, ds in splits.items()}
    files = {f: sha256_file(f) for f in source.files(data.source_options)}
    tokenizer = load_tokenizer(params.model.name)
    tokenized = tokenize(splits, tokenizer, params.model.max_length, data.labels, regression=data.task == "regression")
    summary = summarize(splits, data, validation_from, hashes, files)
    if data.task == "regression" and data.standardize_targets:
        tokenized, summary["train_target_scaling"] = standardize_targets(tokenized)
    summary["provenance"] = record(data_hashes=hashes)
    with atomic_dir(PREPARED) as out:
        tokenized.save_to_disk(str(out / SPLITS_DIR))
        tokenizer.save_pretrained(out / TOKENIZER_DIR)
        write_json(out / META_FILE, {"content_sha256": hashes, "labels": data.labels})
    write_json(PREPARE_SUMMARY, summary)
    log.info("prepare: %s examples, content %s", summary["sizes"], {s: h[:12] for s, h in hashes.items()})
    return summary


def main(argv: list[str]) -> None:
    run(load_params())
