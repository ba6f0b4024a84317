"""Hub datasets by name (``nyu-mll/glue`` + ``sst2``, ...), for machines with a network.

``path`` may also be a local dataset directory: ``datasets.load_dataset`` treats both the same way,
which is how the tests exercise this path offline.
"""

from __future__ import annotations

from datasets import DatasetDict, load_dataset
from pydantic.dataclasses import dataclass

from harness.core.errors import HarnessError, first_line
from harness.core.registry import SOURCES
from harness.core.schema import STRICT, setting
from harness.data.base import Source
from harness.data.columns import standardize


@dataclass(config=STRICT)
class HubSettings:
    path: str = setting("nyu-mll/glue", help="the dataset's hub id (datasets.load_dataset's path)")
    name: str | None = setting("sst2", help="its configuration (GLUE's task)")
    revision: str | None = setting(None, help="a git revision of the dataset repository, for a pinned reproduction")
    train_split: str = setting("train", help="the split trained on (validation is carved from it)")
    eval_split: str = setting("validation", help="the reported (test) split (GLUE's test labels are hidden)")
    text_column: str = setting("sentence", help="the column of the text")
    text_pair_column: str | None = setting(None, help="the column of the second text of a pair task (null: single sentences)")
    label_column: str = setting("label", help="the column of the label or score")


@SOURCES.register("hub")
class HubDataset(Source):
    Config = HubSettings

    def load(self, opts, where):
        try:
            raw = load_dataset(opts.path, opts.name, revision=opts.revision)
        except Exception as err:
            raise HarnessError(f"{where}.path: could not load dataset {opts.path!r} ({opts.name}): {first_line(err)} (needs network for hub names)") from None
        splits = {"train": opts.train_split, "test": opts.eval_split}
        for key, name in (("train_split", opts.train_split), ("eval_split", opts.eval_split)):
            if name not in raw:
                raise HarnessError(f"{where}.{key}: no split {name!r} in {opts.path}; splits: {', '.join(raw)}")
        origin = {s: f"{opts.path} split {n}" for s, n in splits.items()}
        return standardize(
            DatasetDict({s: raw[n] for s, n in splits.items()}),
            text=opts.text_column, pair=opts.text_pair_column, label=opts.label_column, where=where, origin=origin,
        )
