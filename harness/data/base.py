"""What every data source is and returns: the standard columns and splits, and the :class:`Source` interface."""

from __future__ import annotations

from typing import Any, ClassVar

from datasets import DatasetDict

TEXT, PAIR, LABEL = "text", "text_pair", "label"
SPLITS = ("train", "validation", "test")  # prepared splits, in this order
REQUIRED = ("train", "test")  # what a source must return; validation is carved from train when absent


class Source:
    name: ClassVar[str]  # set by the registry when the class registers
    Config: ClassVar[type]

    def load(self, opts: Any, where: str) -> DatasetDict:
        """Splits ``train``/``test`` (and optionally ``validation``) with columns text[, text_pair], label; ``where`` prefixes error messages."""
        raise NotImplementedError

    def files(self, opts: Any) -> list[str]:
        """Raw files read, so their hashes enter the provenance record."""
        return []
