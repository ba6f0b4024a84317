"""What every generation metric is: its interface and the E2E scripts' input normalisation."""

from __future__ import annotations

from typing import ClassVar


class GenerationMetric:
    name: ClassVar[str]  # set by the registry when the class registers

    def unavailable(self) -> str | None:
        return None

    def corpus(self, predictions: list[str], references: list[list[str]]) -> float:
        raise NotImplementedError


def coco_inputs(predictions: list[str], references: list[list[str]]) -> tuple[dict, dict]:
    """pycocoevalcap's input shape, lowercased and split on whitespace and punctuation as the E2E
    scripts do before calling it (they run the same PTB-style normalisation)."""
    import re

    def norm(text: str) -> str:
        return " ".join(re.findall(r"[\w£]+(?:[-'][\w£]+)*|[^\w\s]", text.lower()))

    gts = {i: [norm(r) for r in refs] for i, refs in enumerate(references)}
    res = {i: [norm(p) or "<empty>"] for i, p in enumerate(predictions)}
    return gts, res

