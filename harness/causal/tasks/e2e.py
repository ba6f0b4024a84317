"""Data-to-text in E2E's format (Novikova et al. 2017): a restaurant meaning representation -> a sentence.

Offline, a deterministic generator draws meaning representations over E2E's eight attributes and value
sets and realises each one several times (different clause orders, phrasings and sentence splits), so a
test MR has several references as in E2E. The format is E2E's own (``name[The Eagle], food[French]``)
and the rows are scored by the same metric code (``harness/causal/metrics``) as real E2E references.
On the hub: ``tuetschek/e2e_nlg`` (was ``e2e_nlg``; ``meaning_representation``, ``human_reference``); locally: E2E's CSV files
(``mr``, ``ref`` columns) or JSONL with ``mr`` and ``ref``.
"""

from __future__ import annotations

import csv
import random
from collections import defaultdict
from pathlib import Path
from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.causal.tasks.base import CausalTask, Rows, require
from harness.core.errors import HarnessError
from harness.core.registry import CAUSAL_TASKS
from harness.core.schema import STRICT, setting

SEPARATOR = " ||"  # between the MR and the sentence, as in the LoRA paper's E2E data

NAMES = ["The Eagle", "The Mill", "Aromi", "Bibimbap House", "Blue Spice", "Browns Cambridge", "Clowns", "Cocum",
         "Cotto", "Fitzbillies", "Giraffe", "Green Man", "Loch Fyne", "Midsummer House", "Strada", "Taste of Cambridge",
         "The Cambridge Blue", "The Cricketers", "The Dumpling Tree", "The Golden Curry", "The Olive Grove",
         "The Phoenix", "The Plough", "The Punter", "The Rice Boat", "The Twenty Two", "The Vaults", "Wildwood",
         "Zizzi", "Alimentum"]
NEAR = ["Burger King", "Café Adriatic", "Café Brazil", "Café Sicilia", "Crowne Plaza Hotel", "Express by Holiday Inn",
        "Raja Indian Cuisine", "Rainbow Vegetarian Café", "The Bakers", "The Portland Arms", "The Sorrento",
        "Yippee Noodle Bar", "All Bar One", "Avalon", "Ranch"]
VALUES = {
    "eatType": ["restaurant", "coffee shop", "pub"],
    "food": ["French", "Italian", "Chinese", "Japanese", "Indian", "English", "Fast food"],
    "priceRange": ["cheap", "moderate", "high", "less than £20", "£20-25", "more than £30"],
    "customer rating": ["low", "average", "high", "1 out of 5", "3 out of 5", "5 out of 5"],
    "area": ["riverside", "city centre"],
    "familyFriendly": ["yes", "no"],
}
ORDER = ["name", "eatType", "food", "priceRange", "customer rating", "area", "familyFriendly", "near"]


@dataclass(config=STRICT)
class E2EGenerated:
    n_train_mrs: Annotated[int, Field(gt=0)] = setting(700, help="meaning representations (venues) generated for training")
    n_test_mrs: Annotated[int, Field(gt=0)] = setting(60, help="meaning representations held out for the test split")
    references: Annotated[int, Field(gt=0)] = setting(3, help="realisations per MR (train: one row each; test: the reference set)")
    seed: int = setting(2017, help="the generator's seed")


def format_mr(mr: dict[str, str]) -> str:
    return ", ".join(f"{k}[{mr[k]}]" for k in ORDER if k in mr)


def random_mr(rng: random.Random) -> dict[str, str]:
    """Name plus 2-7 other attributes, as E2E's MRs have 3-8 in all."""
    mr = {"name": rng.choice(NAMES)}
    others = [k for k in ORDER if k != "name"]
    for key in rng.sample(others, rng.randint(2, len(others))):
        mr[key] = rng.choice(NEAR) if key == "near" else rng.choice(VALUES[key])
    return mr


def _price(v: str, rng: random.Random) -> str:
    if v[0] in "lm£" and v not in ("low", "moderate"):
        return rng.choice([f"with prices {v}", f"in the {v} price range"])
    return rng.choice([f"with {v} prices", f"in the {v} price range"])


def _rating(v: str, rng: random.Random) -> str:
    return rng.choice([f"with a {v} customer rating", f"rated {v} by customers", f"which customers rate {v}"])


PHRASES = {
    "food": lambda v, rng: rng.choice([f"serving {v}", f"that serves {v}", f"offering {v}"]) + ("" if v == "Fast food" else rng.choice([" food", " cuisine"])),
    "priceRange": _price,
    "customer rating": _rating,
    "area": lambda v, rng: rng.choice([f"in the {v}", f"located in the {v}", f"in the {v} area"]),
    "near": lambda v, rng: rng.choice([f"near {v}", f"close to {v}", f"not far from {v}"]),
}
FAMILY = {"yes": ["is family friendly", "is kid friendly", "welcomes children"],
          "no": ["is not family friendly", "is not kid friendly", "does not welcome children"]}


def realise(mr: dict[str, str], rng: random.Random) -> str:
    """One sentence (or two) expressing every attribute of ``mr``; ``rng`` picks order and phrasing."""
    name = mr["name"]
    head = f"{name} is a {mr['eatType']}" if "eatType" in mr else rng.choice([f"{name} is a place", name])
    clauses = [PHRASES[k](mr[k], rng) for k in ORDER if k in PHRASES and k in mr]
    rng.shuffle(clauses)
    family = rng.choice(FAMILY[mr["familyFriendly"]]) if "familyFriendly" in mr else None
    if head == name and clauses:  # bare name: needs a verb before the clauses
        head = f"{name} is a venue"
    split = rng.randint(1, len(clauses)) if len(clauses) > 1 and rng.random() < 0.5 else len(clauses)
    first = " ".join([head] + [", ".join(clauses[:split])] if clauses[:split] else [head])
    rest = clauses[split:]
    sentences = [first]
    if rest:
        sentences.append("It is " + " and ".join(rest))
    if family:
        sentences.append(f"It {family}" if rng.random() < 0.5 else f"{name} {family}")
    return ". ".join(sentences) + "."


def rows_from_pairs(pairs: list[tuple[str, str]], split: str) -> Rows:
    """Train: one row per (MR, reference); test: one row per MR with every reference (E2E's multi-reference
    scoring). Both splits have the same columns (one JSON dataset schema)."""
    if split == "train":
        return [{"mr": mr, "ref": ref, "refs": [ref], "text": f"{mr}{SEPARATOR} {ref}"} for mr, ref in pairs]
    grouped: dict[str, list[str]] = defaultdict(list)
    for mr, ref in pairs:
        grouped[mr].append(ref)
    return [{"mr": mr, "ref": refs[0], "refs": refs, "text": f"{mr}{SEPARATOR} {refs[0]}"} for mr, refs in grouped.items()]


@CAUSAL_TASKS.register("e2e")
class E2E(CausalTask):
    kind = "data_to_text"
    Generated = E2EGenerated
    hub_default = ("tuetschek/e2e_nlg", None)  # "e2e_nlg" redirects here; a loading-script repository
    hub_revision = "refs/convert/parquet"
    lm_eval_tasks = ("peft_repro_d2t", "peft_repro_d2t_ppl")

    def generate(self, cfg: E2EGenerated) -> dict[str, Rows]:
        rng = random.Random(cfg.seed)
        seen: set[str] = set()
        splits = {}
        for split, n in (("train", cfg.n_train_mrs), ("test", cfg.n_test_mrs)):
            pairs = []
            while len(pairs) < n * cfg.references:
                mr = random_mr(rng)
                key = format_mr(mr)
                if key in seen:  # test MRs never appear in training, as in E2E
                    continue
                seen.add(key)
                pairs += [(key, realise(mr, rng)) for _ in range(cfg.references)]
            splits[split] = rows_from_pairs(pairs, split)
        return splits

    def from_records(self, records: Rows, split: str, where: str) -> Rows:
        pairs = []
        for i, rec in enumerate(records):
            mr_col = "meaning_representation" if "meaning_representation" in rec else "mr"
            ref_col = "human_reference" if "human_reference" in rec else "ref"
            pairs.append((require(rec, mr_col, f"{where} row {i}").strip(), require(rec, ref_col, f"{where} row {i}").strip()))
        return rows_from_pairs(pairs, split)

    def read_other(self, path: Path, split: str, where: str) -> Rows:
        if path.suffix != ".csv":
            raise HarnessError(f"{where}: {path}: unsupported file type {path.suffix!r}; allowed: .jsonl, .csv (E2E's mr,ref)")
        with path.open(encoding="utf-8", newline="") as f:
            return self.from_records(list(csv.DictReader(f)), split, f"{where}: {path}")

    def training_pair(self, row):
        return row["mr"] + SEPARATOR, " " + row["ref"]
