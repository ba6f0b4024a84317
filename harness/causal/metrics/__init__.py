"""Generation metrics of the E2E challenge (BLEU, NIST, METEOR, ROUGE-L, CIDEr), one module each.

Each registers a :class:`GenerationMetric`: ``unavailable()`` says why it cannot run here (None when it
can), ``corpus(predictions, references)`` scores a corpus where every prediction has a list of
references. The implementations are the ones the E2E challenge's official scripts wrap, offline:
sacrebleu (mteval-v13a BLEU), NLTK (NIST), pycocoevalcap (METEOR 1.5 via Java, ROUGE-L, CIDEr-D).
Scales follow the LoRA paper's Table 3: BLEU, METEOR and ROUGE-L x100; NIST and CIDEr raw.
"""

from __future__ import annotations

import importlib
import pkgutil
from typing import ClassVar

from harness.registry import Registry

GENERATION_METRICS: Registry = Registry("generation metric")


class GenerationMetric:
    name: ClassVar[str]

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


for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
