"""Data sources behind one registry: built-in generators, local files, hub datasets.

Every source returns a ``datasets.DatasetDict`` with splits ``train`` and ``test`` (the reported split: SST-2's
dev set, a generator's held-out stream) and, where it has one, ``validation``, with the standard columns
below; everything after that (checking, carving a validation split from train where the source has none,
subsetting, hashing, tokenising) is shared. Settings are chosen on ``validation`` only (the tune stage);
``test`` is read by the stages that report.
"""

from __future__ import annotations

from typing import Any, ClassVar

from datasets import DatasetDict

from harness.registry import Registry

TEXT, PAIR, LABEL = "text", "text_pair", "label"
SPLITS = ("train", "validation", "test")  # prepared splits, in this order
REQUIRED = ("train", "test")  # what a source must return; validation is carved from train when absent


class Source:
    name: ClassVar[str]
    Config: ClassVar[type]

    def load(self, opts: Any, where: str) -> DatasetDict:
        """Splits ``train``/``test`` (and optionally ``validation``) with columns text[, text_pair], label; ``where`` prefixes error messages."""
        raise NotImplementedError

    def files(self, opts: Any) -> list[str]:
        """Raw files read, so their hashes enter the provenance record."""
        return []


SOURCES: Registry = Registry("data source")

from harness.data import hub, local, synthetic_sentiment  # noqa: F401  (registration side effects)
