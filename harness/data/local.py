"""Local TSV/CSV/JSONL files, read with the ``datasets`` csv/json builders.

TSV is read with quoting off, as GLUE ships it (SST-2 sentences contain bare quote characters), and
with NA detection off, so a sentence such as ``null`` stays text.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from datasets import load_dataset
from pydantic.dataclasses import dataclass

from harness.core.errors import HarnessError, first_line
from harness.core.registry import SOURCES
from harness.core.schema import STRICT
from harness.data.base import Source
from harness.data.columns import standardize

FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclass(config=STRICT)
class LocalSettings:
    train: str = "../shared/data/glue/SST-2/train.tsv"
    eval: str = "../shared/data/glue/SST-2/dev.tsv"  # the reported (test) split; validation is carved from train
    format: Literal["auto", "tsv", "csv", "jsonl"] = "auto"
    text_column: str = "sentence"
    text_pair_column: str | None = None
    label_column: str = "label"


def file_format(path: str, declared: str, where: str) -> str:
    if declared != "auto":
        return declared
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise HarnessError(f"{where}.format: cannot tell the format of {path} from its suffix; set one of: tsv, csv, jsonl")
    return fmt


def has_rows(path: str, header: bool) -> bool:
    """Checked before ``load_dataset``, whose own error for an empty file does not name the file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = (line for line in f if line.strip())
        if header:
            next(lines, None)
        return next(lines, None) is not None


@SOURCES.register("local")
class LocalFiles(Source):
    name = "local"
    Config = LocalSettings

    def files(self, opts):
        return [opts.train, opts.eval]

    def load(self, opts, where):
        paths = {"train": opts.train, "test": opts.eval}
        keys = {"train": "train", "test": "eval"}
        for split, path in paths.items():
            if not Path(path).is_file():
                raise HarnessError(f"{where}.{keys[split]}: file not found: {path}")
        formats = {file_format(p, opts.format, where) for p in paths.values()}
        if len(formats) != 1:
            raise HarnessError(f"{where}.format: train and eval files differ in format ({', '.join(sorted(formats))}); set format")
        fmt = formats.pop()
        for split, path in paths.items():
            if not has_rows(path, header=fmt != "jsonl"):
                raise HarnessError(f"{where}.{keys[split]}: {path} has no data rows (the {split} split would be empty)")
        try:
            if fmt == "jsonl":
                splits = load_dataset("json", data_files=paths)
            else:
                splits = load_dataset(
                    "csv",
                    data_files=paths,
                    sep="\t" if fmt == "tsv" else ",",
                    quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
                    keep_default_na=False,
                )
        except Exception as err:  # pandas/pyarrow parse errors: keep the first line, name the files
            raise HarnessError(f"{where}: could not read {fmt} files {opts.train}, {opts.eval}: {first_line(err)}") from None
        return standardize(
            splits, text=opts.text_column, pair=opts.text_pair_column, label=opts.label_column, where=where, origin=paths
        )
