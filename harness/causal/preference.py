"""Preference pairs and an attribute judge for E2E-format data-to-text, written from the meaning representation.

A pair is (prompt, chosen, rejected) for one MR: ``chosen`` realises every attribute, ``rejected`` is the same
realisation (same random phrasing and clause order) of the MR with one attribute dropped or given another
value of its own value set (a contradiction). Chosen and rejected then differ only in that attribute, so a
preference learned from them is about faithfulness, not phrasing or length alone.

The judge reads a text against the MR: an attribute is *covered* when the text says its value as the
generator's phrasings (and E2E's common variants) say it, and *contradicted* when the text says another value
of the same attribute instead. It is exact on generated text; on human E2E references it under-counts
paraphrases ("kid-friendly" is caught, "good for families" is not), so it ranks models, it does not grade humans.
"""

from __future__ import annotations

import random
import re
from dataclasses import dataclass
from typing import Any

from harness.causal.tasks.e2e import NAMES, NEAR, ORDER, SEPARATOR, VALUES, realise
from harness.core.errors import HarnessError

MR_ITEM = re.compile(r"\s*([^\[\],]+?)\s*\[([^\]]*)\]\s*")
CORRUPTIONS = ("drop", "contradict")
FAMILY_NO = ("not family friendly", "not family-friendly", "not kid friendly", "not kid-friendly", "not children friendly",
             "does not welcome children", "doesn't welcome children", "no children", "not child friendly", "not child-friendly")
FAMILY_YES = ("family friendly", "family-friendly", "kid friendly", "kid-friendly", "welcomes children", "child friendly",
              "child-friendly", "children friendly")


def parse_mr(text: str) -> dict[str, str]:
    """``name[The Eagle], food[French]`` -> ``{"name": "The Eagle", "food": "French"}`` (E2E's MR format)."""
    items = MR_ITEM.findall(text)
    if not items:
        raise HarnessError(f"meaning representation {text[:60]!r}: no attribute[value] items")
    return {key.strip(): value.strip() for key, value in items}


def _said(text: str, phrases: list[str]) -> bool:
    return any(re.search(rf"(?<![\w£-]){re.escape(p.lower())}(?![\w-])", text) for p in phrases)


def _phrases(key: str, value: str) -> list[str]:
    """How a text says ``key`` has ``value``: the generator's phrasings, by attribute."""
    if key == "priceRange":
        return [f"{value} price", f"prices {value}", f"{value} prices", f"price range {value}", f"price range of {value}"]
    if key == "customer rating":
        return [f"{value} customer rating", f"rated {value}", f"rate {value}", f"rating of {value}", f"{value} rating", f"rating is {value}"]
    if key == "eatType":
        return [f"a {value}", f"an {value}", f"the {value}"]
    return [value]


def _family(text: str) -> str | None:
    """``yes``, ``no`` or ``None`` (not said): negated phrasings first, as they contain the positive ones."""
    if _said(text, list(FAMILY_NO)):
        return "no"
    return "yes" if _said(text, list(FAMILY_YES)) else None


def _alternatives(key: str, value: str) -> list[str]:
    pool = NEAR if key == "near" else VALUES.get(key, [])
    return [v for v in pool if v != value]


@dataclass(frozen=True)
class Judgement:
    covered: int
    contradicted: int
    attributes: int

    @property
    def coverage(self) -> float:
        return self.covered / self.attributes


def judge(mr: dict[str, str], text: str) -> Judgement:
    """Which of the MR's attributes ``text`` realises and which it contradicts (another value of the same
    attribute said, and the MR's own not said). ``name`` counts as covered when it is said. Venue names are
    masked before the other attributes are read: "Raja Indian Cuisine" says nothing about the food."""
    low = text.lower()
    masked = low
    for venue in sorted({*NAMES, *NEAR, *(mr[k] for k in ("name", "near") if k in mr)}, key=len, reverse=True):
        masked = masked.replace(venue.lower(), "<venue>")
    covered = contradicted = 0
    for key, value in mr.items():
        seen = low if key in ("name", "near") else masked
        if key == "familyFriendly":
            said = _family(seen)
            covered += said == value
            contradicted += said is not None and said != value
            continue
        if _said(seen, _phrases(key, value)):
            covered += 1
        elif key != "name" and any(_said(seen, _phrases(key, other)) for other in _alternatives(key, value)):
            contradicted += 1
    return Judgement(covered=covered, contradicted=contradicted, attributes=len(mr))


def corrupt(mr: dict[str, str], rng: random.Random, kind: str) -> dict[str, str]:
    """``mr`` with one non-name attribute dropped, or set to another value of its value set."""
    keys = [k for k in ORDER if k in mr and k != "name"]
    key = rng.choice(keys)
    out = dict(mr)
    if kind == "drop":
        del out[key]
    else:
        out[key] = rng.choice(_alternatives(key, mr[key]))
    return out


def preference_pairs(mrs: list[str], seed: int, per_mr: int = 2) -> list[dict[str, Any]]:
    """``per_mr`` pairs for each MR (alternating drop / contradict), trl's preference format
    (``prompt``, ``chosen``, ``rejected``), seeded and deterministic. Chosen and rejected share one random
    phrasing: both are realised from a copy of the same generator state."""
    rng = random.Random(seed)
    pairs = []
    for text in mrs:
        mr = parse_mr(text)
        for i in range(per_mr):
            kind = CORRUPTIONS[i % len(CORRUPTIONS)]
            bad = corrupt(mr, rng, kind)
            state = rng.getstate()
            chosen = realise(mr, rng)
            rng.setstate(state)
            rejected = realise(bad, rng)
            pairs.append({"prompt": text + SEPARATOR, "chosen": " " + chosen, "rejected": " " + rejected, "corruption": kind})
    return pairs


def hub_pairs(name: str, split: str, limit: int | None, tokenizer) -> list[dict[str, Any]]:
    """Pairs from a preference set on the hub (or a local dataset folder) in trl's preference format: a
    ``prompt`` with ``chosen`` and ``rejected`` completions, or ``chosen``/``rejected`` whole conversations
    whose shared start is the prompt (trl's implicit-prompt form, split by ``maybe_extract_prompt``).
    Conversational sets are rendered with the tokenizer's chat template; a tokenizer without one is refused,
    as DPOTrainer would refuse it later."""
    from datasets import load_dataset
    from trl.data_utils import is_conversational, maybe_apply_chat_template, maybe_extract_prompt

    try:
        rows = load_dataset(name, split=split)
    except Exception as err:  # noqa: BLE001 - datasets raises many kinds; each means "this set cannot be read"
        raise HarnessError(f"causal.align.preference: dataset {name!r} split {split!r} cannot be loaded: {str(err).splitlines()[0]}") from None
    missing = {"chosen", "rejected"} - set(rows.column_names)
    if missing:
        raise HarnessError(f"causal.align.preference: dataset {name!r} lacks column(s) {', '.join(sorted(missing))}; "
                           f"a preference set has chosen and rejected (and prompt, or a shared conversation start)")
    if limit is not None:
        rows = rows.select(range(min(limit, len(rows))))
    pairs = []
    for row in rows:
        example = maybe_extract_prompt({k: row[k] for k in ("prompt", "chosen", "rejected") if k in row})
        if is_conversational(example):
            if tokenizer.chat_template is None:
                raise HarnessError(f"causal.align.preference: dataset {name!r} is conversational and the causal base model's tokenizer has no chat template")
            example = maybe_apply_chat_template(example, tokenizer)
        pairs.append({k: example[k] for k in ("prompt", "chosen", "rejected")})
    return pairs
