"""Language modelling (the seed paper's WikiText-2 setup): perplexity of held-out documents.

Offline, documents are paragraphs of the built-in restaurant-description language (the E2E generator's
realiser, a different seed); on the hub, WikiText-2 raw at document level (the corpus lm-eval's own
``wikitext`` task uses); locally, a ``.txt`` file (documents separated by blank lines) or JSONL with ``text``.
"""

from __future__ import annotations

import random
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.causal.tasks.base import CausalTask, Rows, require
from harness.causal.tasks.e2e import random_mr, realise
from harness.core.errors import HarnessError
from harness.core.registry import CAUSAL_TASKS
from harness.core.schema import STRICT, setting


@dataclass(config=STRICT)
class LMGenerated:
    n_train_docs: Annotated[int, Field(gt=0)] = setting(2000, help="training documents generated")
    n_test_docs: Annotated[int, Field(gt=0)] = setting(100, help="test documents generated")
    sentences_per_doc: Annotated[int, Field(gt=0)] = setting(4, help="sentences per document")
    seed: int = setting(103, help="the generator's seed")


@CAUSAL_TASKS.register("lm")
class LanguageModelling(CausalTask):
    kind = "language_modeling"
    Generated = LMGenerated
    hub_default = ("EleutherAI/wikitext_document_level", "wikitext-2-raw-v1")  # what lm-eval's wikitext task reads
    hub_revision = "refs/convert/parquet"
    lm_eval_tasks = ("peft_repro_ppl",)

    def generate(self, cfg: LMGenerated) -> dict[str, Rows]:
        rng = random.Random(cfg.seed)

        def doc() -> dict:
            return {"text": " ".join(realise(random_mr(rng), rng) for _ in range(cfg.sentences_per_doc))}

        return {"train": [doc() for _ in range(cfg.n_train_docs)], "test": [doc() for _ in range(cfg.n_test_docs)]}

    def from_records(self, records: Rows, split: str, where: str) -> Rows:
        column = "page" if records and "page" in records[0] else "text"
        rows = [{"text": require(rec, column, f"{where} row {i}")} for i, rec in enumerate(records) if str(rec.get(column, "")).strip()]
        if not rows:
            raise HarnessError(f"{where}: no non-empty {column!r} documents")
        return rows

    def read_other(self, path: Path, split: str, where: str) -> Rows:
        if path.suffix != ".txt":
            raise HarnessError(f"{where}: {path}: unsupported file type {path.suffix!r}; allowed: .jsonl, .txt")
        docs = [d.strip() for d in path.read_text(encoding="utf-8").split("\n\n") if d.strip()]
        return self.from_records([{"text": d} for d in docs], split, f"{where}: {path}")

    def training_pair(self, row):
        return "", row["text"]
