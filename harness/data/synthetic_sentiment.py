"""Built-in compositional sentiment task, generated deterministically from a seed (no download).

A review is one to ``max_clauses`` clauses joined by connectives; the label is the sign of a score that
follows how sentiment composes in real reviews, not word counts:

* **lexical variety**: the polar word is an adjective (``superb`` +3, ``dull`` -1.5), a verb of the
  speaker (``loved``, ``could not stand``) or a noun phrase (``a triumph``, ``a waste of time``), in
  several clause frames, over many aspects and verbs; intensifiers and downtoners scale it;
* **negation and its scope**: a near negation (``not great``) flips and damps; a negation that scopes over
  a whole clause (``I would not say that ...``, ``nobody could call ... great``) flips it from a distance;
* **contrast**: in ``X but Y``, ``X, yet Y``, ``X; however, Y`` and ``although X, Y`` the later clause
  dominates, while in ``Y, although X`` / ``Y, even if X`` the main clause comes first: which side wins
  depends on the connective *and* its position;
* **attributed and irrealis clauses**: what critics or friends said counts for little; what the speaker
  had hoped or expected counts against (``I had hoped it would be great`` is a disappointment);
* **long-range composition**: up to ``max_clauses`` (at most four) clauses, so the deciding clause can sit
  far from the start.

A sentence whose score lies near zero is redrawn (no defensible label). A bag-of-words reader fails on
negation scope and contrast order; a frozen encoder's features carry little of either, so the task
separates methods by how much of the encoder's composition they can adapt.
"""

from __future__ import annotations

import random
from typing import Annotated

from datasets import Dataset, DatasetDict
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.registry import SOURCES
from harness.core.schema import STRICT, setting
from harness.data.base import LABEL, TEXT, Source

ADJECTIVES = {
    "decent": 1, "fine": 1, "pleasant": 1, "solid": 1, "likable": 1, "good": 1.5, "engaging": 1.5,
    "enjoyable": 2, "charming": 2, "moving": 2, "gripping": 2, "witty": 2, "great": 2.5, "terrific": 2.5,
    "wonderful": 3, "brilliant": 3, "superb": 3, "masterful": 3,
    "uneven": -1, "flat": -1, "weak": -1, "bland": -1, "forgettable": -1, "bad": -1.5, "dull": -1.5,
    "boring": -2, "clumsy": -2, "tedious": -2, "lifeless": -2, "awful": -2.5, "painful": -2.5,
    "terrible": -3, "dreadful": -3, "unbearable": -3,
}
SPEAKER_VERBS = {  # "I <verb> <aspect>": past form -> (form after "did not", strength)
    "liked": ("like", 1.5), "enjoyed": ("enjoy", 2), "admired": ("admire", 2), "loved": ("love", 3),
    "adored": ("adore", 3), "disliked": ("dislike", -1.5), "resented": ("resent", -2), "hated": ("hate", -3),
    "regretted": ("regret", -2), "could not stand": (None, -3),
}
VERB_INTENSIFIERS = {"": 1.0, "really": 1.5, "truly": 1.5, "absolutely": 2.0}
NOUNS = {  # "<aspect> <is> <noun>"
    "a delight": 2.5, "a triumph": 3, "a pleasure": 2, "a gem": 2.5, "worth the ticket": 2,
    "a mess": -2.5, "a disaster": -3, "a letdown": -2, "a waste of time": -3, "a chore": -2,
}
INTENSIFIERS = {
    "slightly": 0.5, "a bit": 0.5, "somewhat": 0.75, "fairly": 0.75, "": 1.0, "quite": 1.25, "really": 1.5,
    "truly": 1.5, "very": 2.0, "remarkably": 2.0, "extremely": 3.0, "utterly": 3.0,
}
NEAR_NEGATIONS = ["not", "never", "hardly", "far from"]
ASPECTS = [
    "the movie", "the plot", "the acting", "the script", "the ending", "the cast", "the pacing",
    "the dialogue", "the soundtrack", "the visuals", "the direction", "the humor", "this film", "the story",
    "the lead", "the editing", "the premise", "the first act", "the finale", "the score", "the sequel",
]
VERBS = ["was", "is", "felt", "seemed", "looked", "turned out", "came across as", "proved"]
WIDE_NEGATIONS = ["i would not say that", "it is not true that", "nobody could claim that", "i refuse to believe that"]
ATTRIBUTIONS = ["critics said", "my friends insisted", "the trailer promised", "some reviews claimed"]
IRREALIS = ["i had hoped", "i expected that", "everyone told me", "i was sure"]

NEAR_NEGATION = -0.5  # "not great" is mildly negative, not the opposite of great
WIDE_NEGATION = -0.75
ATTRIBUTED = 0.25  # someone else's opinion barely moves the speaker's
HOPED = -0.5  # an unmet hope reads as disappointment
LATER_WINS = (0.25, 2.0)  # weights of (earlier, later) clause for "but"-type connectives


@dataclass(config=STRICT)
class SyntheticSentimentSettings:
    n_train: Annotated[int, Field(gt=0)] = setting(4000, help="training examples generated")
    n_validation: Annotated[int, Field(gt=0)] = setting(1000, help="validation examples: where settings are chosen (the tune stage)")
    n_eval: Annotated[int, Field(gt=0)] = setting(1000, help="examples of the reported (test) split")
    seed: int = setting(1234, help="the generator's seed")
    p_negation: Annotated[float, Field(ge=0, le=1)] = setting(0.3, help="chance a clause is negated up close")
    p_wide: Annotated[float, Field(ge=0, le=1)] = setting(0.3, help="chance a clause is wrapped in a wide negation, attribution or irrealis frame")
    p_contrast: Annotated[float, Field(ge=0, le=1)] = setting(0.6, help="chance a further clause is joined by a contrast (\"but\")")
    max_clauses: Annotated[int, Field(ge=1, le=4)] = setting(3, help="clauses per sentence, at most")
    label_noise: Annotated[float, Field(ge=0, lt=0.5)] = setting(0.0, help="share of labels flipped")


def core_clause(rng: random.Random, p_negation: float) -> tuple[str, float, bool]:
    """One opinion in one of three frames (adjective, speaker verb, noun phrase), maybe negated up close;
    whether it is about an aspect (the frames a wider frame can wrap: "critics said the plot was dull")."""
    aspect, intensifier = rng.choice(ASPECTS), rng.choice(sorted(INTENSIFIERS))
    negated = rng.random() < p_negation
    frame = rng.random()
    if frame < 0.5:
        adjective = rng.choice(sorted(ADJECTIVES))
        words = [aspect, rng.choice(VERBS), rng.choice(NEAR_NEGATIONS) if negated else "", intensifier, adjective]
        score = ADJECTIVES[adjective] * INTENSIFIERS[intensifier]
        about_aspect = True
    elif frame < 0.75:
        verb = rng.choice(sorted(SPEAKER_VERBS))
        base, strength = SPEAKER_VERBS[verb]
        negated = negated and base is not None
        adverb = rng.choice(sorted(VERB_INTENSIFIERS))
        words = ["i", adverb, "did not", base, aspect] if negated else ["i", adverb, verb, aspect]
        score = strength * VERB_INTENSIFIERS[adverb]
        about_aspect = False
    else:
        noun = rng.choice(sorted(NOUNS))
        words = [aspect, rng.choice(["was", "is"]), "not" if negated else "", noun]
        score = NOUNS[noun]
        about_aspect = True
    return " ".join(w for w in words if w), score * (NEAR_NEGATION if negated else 1.0), about_aspect


def clause(rng: random.Random, cfg: SyntheticSentimentSettings) -> tuple[str, float]:
    """A core clause, sometimes inside a frame that negates it from a distance, attributes it or makes it a hope."""
    text, score, about_aspect = core_clause(rng, cfg.p_negation)
    if not about_aspect or rng.random() >= cfg.p_wide:
        return text, score
    kind = rng.randrange(3)
    if kind == 0:
        return f"{rng.choice(WIDE_NEGATIONS)} {text}", WIDE_NEGATION * score
    if kind == 1:
        return f"{rng.choice(ATTRIBUTIONS)} {text}", ATTRIBUTED * score
    return f"{rng.choice(IRREALIS)} {text}", HOPED * score


def join(rng: random.Random, left: tuple[str, float], right: tuple[str, float], p_contrast: float) -> tuple[str, float]:
    (a, sa), (b, sb) = left, right
    if rng.random() >= p_contrast:
        return f"{a} and {b}", sa + sb
    early, late = LATER_WINS
    form = rng.randrange(6)
    if form == 0:
        return f"{a}, but {b}", early * sa + late * sb
    if form == 1:
        return f"{a}, yet {b}", early * sa + late * sb
    if form == 2:
        return f"{a}; however, {b}", early * sa + late * sb
    if form == 3 and not a.startswith("although "):
        return f"although {a}, {b}", early * sa + late * sb
    if form == 3:
        return f"{a}, but {b}", early * sa + late * sb
    if form == 4:  # the concession comes second: the first clause is the main one
        return f"{a}, although {b}", late * sa + early * sb
    return f"{a}, even if {b}", late * sa + early * sb


def sentence(rng: random.Random, cfg: SyntheticSentimentSettings) -> tuple[str, float]:
    text, score = clause(rng, cfg)
    for _ in range(rng.randint(1, cfg.max_clauses) - 1):
        text, score = join(rng, (text, score), clause(rng, cfg), cfg.p_contrast)
    return text[0].upper() + text[1:] + ".", score


def generate(cfg: SyntheticSentimentSettings, n: int, seed: int, exclude: frozenset[str] = frozenset()) -> Dataset:
    rng = random.Random(seed)
    texts, labels = [], []
    seen = set(exclude)
    while len(texts) < n:
        text, score = sentence(rng, cfg)
        if abs(score) < 0.5 or text in seen:  # near-neutral: no defensible label; seen in another split: leakage
            continue
        label = int(score > 0)
        if rng.random() < cfg.label_noise:
            label = 1 - label
        seen.add(text)
        texts.append(text)
        labels.append(label)
    return Dataset.from_dict({TEXT: texts, LABEL: labels})


@SOURCES.register("synthetic_sentiment")
class SyntheticSentiment(Source):
    Config = SyntheticSentimentSettings

    def load(self, opts, where):
        # A stream per split, all fixed by the one seed; no sentence appears in two splits.
        train = generate(opts, opts.n_train, opts.seed)
        validation = generate(opts, opts.n_validation, opts.seed + 2, frozenset(train[TEXT]))
        test = generate(opts, opts.n_eval, opts.seed + 1, frozenset(train[TEXT]) | frozenset(validation[TEXT]))
        return DatasetDict({"train": train, "validation": validation, "test": test})
