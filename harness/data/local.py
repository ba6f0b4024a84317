"""Local TSV/CSV/JSONL files, read with the ``datasets`` csv/json builders.

TSV is read with quoting off, as GLUE ships it (SST-2 sentences contain bare quote characters), and
with NA detection off, so a sentence such as ``null`` stays text. Files as GLUE's tasks ship them: a file
without a header row (CoLA and several public MRPC/QQP copies) is read with ``header: false`` and its
columns named by position (``"0"``, ``"1"``, ...); label names (RTE's ``entailment``) are declared in
``data.labels`` and mapped to class ids by the prepare stage.
"""

from __future__ import annotations

import csv
from pathlib import Path
from typing import Literal

from datasets import load_dataset
from pydantic.dataclasses import dataclass

from harness.core.errors import HarnessError
from harness.core.registry import SOURCES
from harness.core.schema import STRICT, setting
from harness.data.base import Source
from harness.data.columns import standardize

FORMATS = {".tsv": "tsv", ".csv": "csv", ".jsonl": "jsonl", ".json": "jsonl"}


@dataclass(config=STRICT)
class LocalSettings:
    train: str = setting("../shared/data/glue/SST-2/train.tsv", help="the file trained on (validation is carved from it)")
    eval: str = setting("../shared/data/glue/SST-2/dev.tsv", help="the file of the reported (test) split")
    format: Literal["auto", "tsv", "csv", "jsonl"] = setting("auto", help="auto: from the file's suffix")
    header: bool = setting(True, help="false: the first row is data; columns are named by position (\"0\", \"1\", ...)")
    text_column: str | int = setting("sentence", help="the column of the text")
    text_pair_column: str | int | None = setting(None, help="the column of the second text of a pair task (null: single sentences)")
    label_column: str | int = setting("label", help="the column of the label or score")


def file_format(path: str, declared: str, where: str) -> str:
    if declared != "auto":
        return declared
    fmt = FORMATS.get(Path(path).suffix.lower())
    if fmt is None:
        raise HarnessError(f"{where}.format: cannot tell the format of {path} from its suffix; set one of: tsv, csv, jsonl")
    return fmt


def first_row(path: str, sep: str) -> list[str]:
    """The fields of the file's first non-empty row: a header, or (``header: false``) the first example, whose
    field count names the columns by position."""
    with open(path, encoding="utf-8", errors="replace") as f:
        first = next((line for line in f if line.strip()), "")
    return first.rstrip("\r\n").split(sep)


def cause(err: BaseException) -> str:
    """One line naming why a read failed. ``datasets`` wraps a parser's error in "An error occurred while
    generating the dataset", which names no cause; the innermost error's first and last lines do
    ("Couldn't cast ... because column names don't match")."""
    while err.__cause__ is not None or (err.__context__ is not None and not err.__suppress_context__):
        err = err.__cause__ or err.__context__
    lines = [line.strip() for line in str(err).splitlines() if line.strip()] or [type(err).__name__]
    return lines[0] if len(lines) == 1 else f"{lines[0]} ... {lines[-1]}"


HINT = " (a file without a header row needs header: false)"


def looks_headerless(columns: list[str]) -> bool:
    """A header names columns; a first data row has numbers among its fields (labels, ids, scores)."""
    def number(field: str) -> bool:
        try:
            float(field)
        except ValueError:
            return False
        return True

    return any(number(c) for c in columns)


def has_rows(path: str, header: bool) -> bool:
    """Checked before ``load_dataset``, whose own error for an empty file does not name the file."""
    with open(path, encoding="utf-8", errors="replace") as f:
        lines = (line for line in f if line.strip())
        if header:
            next(lines, None)
        return next(lines, None) is not None


@SOURCES.register("local")
class LocalFiles(Source):
    Config = LocalSettings

    def files(self, opts):
        return [opts.train, opts.eval]

    def load(self, opts, where):
        paths = {"train": opts.train, "test": opts.eval}
        keys = {"train": "train", "test": "eval"}
        formats = {file_format(p, opts.format, where) for p in paths.values()}
        if len(formats) != 1:
            raise HarnessError(f"{where}.format: train and eval files differ in format ({', '.join(sorted(formats))}); set format")
        fmt = formats.pop()
        if fmt == "jsonl" and not opts.header:
            raise HarnessError(f"{where}.header: false applies to tsv and csv files; JSON lines name their fields")
        for split, path in paths.items():
            if not Path(path).is_file():
                raise HarnessError(f"{where}.{keys[split]}: file not found: {path}")
        for split, path in paths.items():
            if not has_rows(path, header=fmt != "jsonl" and opts.header):
                raise HarnessError(f"{where}.{keys[split]}: {path} has no data rows (the {split} split would be empty)")
        try:
            if fmt == "jsonl":
                splits = load_dataset("json", data_files=paths)
            else:
                sep = "\t" if fmt == "tsv" else ","
                positional = {} if opts.header else {"header": None, "column_names": [str(i) for i in range(len(first_row(opts.train, sep)))]}
                splits = load_dataset(
                    "csv",
                    data_files=paths,
                    sep=sep,
                    quoting=csv.QUOTE_NONE if fmt == "tsv" else csv.QUOTE_MINIMAL,
                    keep_default_na=False,
                    **positional,
                )
        except Exception as err:  # pandas/pyarrow parse errors: the real cause in one line, naming the files
            headerless = opts.header and fmt != "jsonl" and looks_headerless(first_row(opts.train, "\t" if fmt == "tsv" else ","))
            raise HarnessError(f"{where}: could not read {fmt} files {opts.train}, {opts.eval}: {cause(err)}{HINT if headerless else ''}") from None
        pair = None if opts.text_pair_column is None else str(opts.text_pair_column)
        return standardize(
            splits, text=str(opts.text_column), pair=pair, label=str(opts.label_column), where=where, origin=paths,
            hint=HINT if opts.header and looks_headerless(splits["train"].column_names) else "",
        )
