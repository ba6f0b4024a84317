"""BM25 retrieval through ``bm25s``, for the knowledge-update task (a venue's store entry) and for retrieved
demonstrations on data-to-text (the training examples whose meaning representations are nearest a test MR).

Why BM25 and not an embedding index: queries and documents share exact tokens (venue names, attribute names and
values), so the match is lexical; BM25 needs no second model in memory (an embedding index would add MiniLM to
every retrieving run's memory and latency) and its index is a sparse matrix built in milliseconds.
"""

from __future__ import annotations

import time

from harness.causal.tasks.base import Rows
from harness.causal.tasks.e2e import SEPARATOR


class Retriever:
    """BM25 over ``docs`` (bm25s; no stop words dropped: "near" and "not" carry meaning here); ``build_seconds`` is
    the index's build time."""

    def __init__(self, docs: list[str]):
        import bm25s

        start = time.perf_counter()
        self.docs = docs
        self.tokenizer = bm25s.tokenization.Tokenizer(stopwords=None)
        self.index = bm25s.BM25()
        self.index.index(self.tokenizer.tokenize(docs, show_progress=False), show_progress=False)
        self.build_seconds = time.perf_counter() - start

    def top(self, queries: list[str], k: int) -> list[list[int]]:
        """The k best documents per query, best first."""
        ids = self.tokenizer.tokenize(queries, update_vocab=False, show_progress=False)
        found, _ = self.index.retrieve(ids, k=min(k, len(self.docs)), show_progress=False, n_threads=1)
        return [[int(i) for i in row] for row in found]


def nearest_demonstrations(train: Rows, test: Rows, k: int) -> tuple[list[str], dict[str, float]]:
    """For every test row, its k nearest training examples (BM25 over the distinct training MRs, the MR's first
    reference) as lm-eval writes few-shot demonstrations, the nearest last; and what retrieval cost."""
    refs: dict[str, str] = {}
    for row in train:
        refs.setdefault(row["mr"], row["ref"])
    mrs = list(refs)
    index = Retriever(mrs)
    start = time.perf_counter()
    found = index.top([row["mr"] for row in test], k)
    seconds = time.perf_counter() - start
    contexts = ["".join(f"{mrs[i]}{SEPARATOR} {refs[mrs[i]]}\n" for i in reversed(row)) for row in found]
    return contexts, {"index_seconds": index.build_seconds, "retrieval_ms": 1000.0 * seconds / len(test), "documents": len(mrs)}
