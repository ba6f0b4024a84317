"""Map a source's own column names onto the standard ones, with errors that name the key and the columns found."""

from __future__ import annotations

from datasets import DatasetDict

from harness.core.errors import HarnessError
from harness.data.base import LABEL, PAIR, TEXT


def standardize(splits: DatasetDict, *, text: str, pair: str | None, label: str, where: str, origin: dict[str, str], hint: str = "") -> DatasetDict:
    """``hint`` ends a missing-column error (the local source's: the file may have no header row)."""
    wanted = {TEXT: (text, "text_column"), LABEL: (label, "label_column")}
    if pair:
        wanted[PAIR] = (pair, "text_pair_column")
    out = {}
    for split, ds in splits.items():
        for column, key in wanted.values():
            if column not in ds.column_names:
                raise HarnessError(
                    f"{where}.{key}: column {column!r} not in {origin[split]}; columns there: {', '.join(ds.column_names)}{hint}"
                )
        ds = ds.select_columns([c for c, _ in wanted.values()])
        out[split] = ds.rename_columns({c: std for std, (c, _) in wanted.items() if c != std})
    return DatasetDict(out)
