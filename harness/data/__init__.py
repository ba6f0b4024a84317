"""Data sources behind one registry: built-in generators, local files, hub datasets.

Every source returns a ``datasets.DatasetDict`` with splits ``train`` and ``eval`` and the standard
columns below; everything after that (validation, subsetting, hashing, tokenising) is shared.
"""

from __future__ import annotations

from typing import Any, ClassVar

from datasets import DatasetDict

from harness.registry import Registry

TEXT, PAIR, LABEL = "text", "text_pair", "label"
SPLITS = ("train", "eval")


class Source:
    name: ClassVar[str]
    Config: ClassVar[type]

    def load(self, opts: Any, where: str) -> DatasetDict:
        """Splits ``train``/``eval`` with columns text[, text_pair], label; ``where`` prefixes error messages."""
        raise NotImplementedError

    def files(self, opts: Any) -> list[str]:
        """Raw files read, so their hashes enter the provenance record."""
        return []


SOURCES: Registry = Registry("data source")

from harness.data import hub, local, synthetic_sentiment  # noqa: F401  (registration side effects)
