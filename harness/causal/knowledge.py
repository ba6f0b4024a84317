"""Knowledge update: the atlas's "retrieval / in-context: changing knowledge" made measurable.

A fact store: each of E2E's venues has a fixed eat type, food, price range and area (the facts at training
time). Fine-tuned models learn to describe a venue from its name alone (``name[The Eagle] ||`` -> a
description), several phrasings per venue. After training the store is updated: ``changed`` venues get one fact
replaced by another value of its value set. Every arm then describes every venue; an output is read with the
attribute judge (harness/causal/preference.py) against the *current* facts: a changed fact is answered when the
new value is said and the old one is not, and repeated (stale) when the old value is said.

The context an arm's prompt carries is one of: none (closed book), ``random`` (k documents of the store drawn at
random: the in-context row) or ``retrieved`` (the k documents BM25 ranks highest for the query: RAG). Documents
are store entries in the task's own format (``name[X] || <description>``, one line each), so a prompt with
context is a few-shot prompt whose demonstrations either are or are not about the venue asked for, and k is the
same for both. Trained arms see the store as it was at training time; every arm answers from the updated one.

Retrieval is BM25 (harness/causal/retrieval.py): the query is a venue name and the documents name their venue.
"""

from __future__ import annotations

import random
from dataclasses import dataclass
from typing import Any, Callable, Literal

from harness.causal.preference import judge
from harness.causal.retrieval import Retriever
from harness.causal.tasks.e2e import NAMES, SEPARATOR, VALUES, format_mr, realise

FACT_KEYS = ("eatType", "food", "priceRange", "area")
Context = Literal["none", "random", "retrieved"]


@dataclass(frozen=True)
class Change:
    name: str
    key: str
    old: str
    new: str


def venue_facts(seed: int) -> dict[str, dict[str, str]]:
    """Every venue's facts at training time: one value per fact key, seeded."""
    rng = random.Random(seed)
    return {name: {"name": name, **{key: rng.choice(VALUES[key]) for key in FACT_KEYS}} for name in NAMES}


def update_facts(facts: dict[str, dict[str, str]], changed: int, seed: int) -> tuple[dict[str, dict[str, str]], list[Change]]:
    """The store after the update: ``changed`` venues (seeded) each get one fact set to another value."""
    rng = random.Random(seed + 1)
    new = {name: dict(mr) for name, mr in facts.items()}
    changes = []
    for name in sorted(rng.sample(sorted(facts), changed)):
        key = rng.choice(FACT_KEYS)
        value = rng.choice([v for v in VALUES[key] if v != facts[name][key]])
        new[name][key] = value
        changes.append(Change(name=name, key=key, old=facts[name][key], new=value))
    return new, changes


def query(name: str) -> str:
    return f"{format_mr({'name': name})}{SEPARATOR}"


def documents(facts: dict[str, dict[str, str]], seed: int) -> list[str]:
    """The store as documents, one per venue in name order: ``name[X] || <one description of its facts>``."""
    rng = random.Random(seed + 2)
    return [f"{query(name)} {realise(facts[name], rng)}" for name in sorted(facts)]


def descriptions(facts: dict[str, dict[str, str]], references: int, seed: int) -> list[tuple[str, str]]:
    """Training targets: ``references`` descriptions per venue (phrasings drawn apart from the store's)."""
    rng = random.Random(seed + 3)
    return [(name, " " + realise(facts[name], rng)) for name in sorted(facts) for _ in range(references)]


def contexts(kind: Context, names: list[str], docs: list[str], k: int, rng: random.Random, retriever: Retriever | None) -> list[list[str]]:
    """Each query's documents, the most relevant last (nearest the question): none, k at random, or the k retrieved."""
    if kind == "none" or k == 0:
        return [[] for _ in names]
    if kind == "random":
        return [[docs[i] for i in rng.sample(range(len(docs)), min(k, len(docs)))] for _ in names]
    assert retriever is not None
    return [[docs[i] for i in reversed(row)] for row in retriever.top([query(n) for n in names], k)]


def prompt(context: list[str], name: str) -> str:
    return "".join(doc + "\n" for doc in context) + query(name)


def fit(context: list[str], name: str, length: Callable[[str], int], budget: int) -> list[str]:
    """``context`` without its first (least relevant) documents until the prompt is at most ``budget`` tokens:
    what fits the model's window beside the answer."""
    while context and length(prompt(context, name)) > budget:
        context = context[1:]
    return context


def first_line(text: str) -> str:
    """An answer ends at its line: the next line of a few-shot prompt would be another venue's document."""
    return text.split("\n", 1)[0].strip()


def says(text: str, key: str, value: str) -> bool:
    return judge({key: value}, text).covered == 1


def score(answers: dict[str, str], facts: dict[str, dict[str, str]], changes: list[Change]) -> dict[str, Any]:
    """Percentages over the current store: every fact said, the changed facts answered with the new value (and not
    the old), the changed facts repeated with the old value, and the unchanged venues' facts said."""
    changed = {c.name for c in changes}
    said = {(n, k): says(answers[n], k, facts[n][k]) for n in facts for k in FACT_KEYS}
    right = [says(answers[c.name], c.key, c.new) and not says(answers[c.name], c.key, c.old) for c in changes]
    stale = [says(answers[c.name], c.key, c.old) for c in changes]
    kept = [v for (n, _), v in said.items() if n not in changed]

    def pct(values: list[bool]) -> float | None:
        return 100.0 * sum(values) / len(values) if values else None

    return {
        "changed_accuracy": pct(right),
        "stale_rate": pct(stale),
        "unchanged_accuracy": pct(kept),
        "fact_accuracy": pct(list(said.values())),
        "n_changed": len(changes),
        "n_facts": len(said),
    }


def recall(retrieved: list[list[int]], wanted: list[int]) -> dict[str, float]:
    """Share of queries whose own venue's document is ranked first / among the k retrieved."""
    return {"hit_at_1": 100.0 * sum(r[0] == w for r, w in zip(retrieved, wanted)) / len(wanted),
            "hit_at_k": 100.0 * sum(w in r for r, w in zip(retrieved, wanted)) / len(wanted)}
