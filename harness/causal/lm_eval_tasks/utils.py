"""lm-eval hooks of the shipped tasks: per-document results and corpus-level aggregations that call the
harness's generation metrics (so E2E references and generated references go through the same code)."""

import math
import re

from harness.core.registry import GENERATION_METRICS


def perplexity_results(doc, results):
    """As lm-eval's wikitext task: word and byte counts of the document weight the log-likelihood."""
    (loglikelihood,) = results
    text = doc["text"]
    words = len(re.split(r"\s+", text.strip()))
    size = len(text.encode("utf-8"))
    return {"word_perplexity": (loglikelihood, words), "byte_perplexity": (loglikelihood, size), "bits_per_byte": (loglikelihood, size)}


def reference_perplexity_results(doc, results):
    """log p(reference | MR), weighted by the reference's words (lm-eval's weighted_perplexity)."""
    loglikelihood, _ = results[0]
    return {"ref_word_perplexity": (loglikelihood, len(doc["ref"].split()))}


def generation_results(doc, results):
    prediction = results[0].strip()
    references = doc.get("refs") or [doc["ref"]]
    return {name: (prediction, references) for name in GENERATION_METRICS.names()}


def _aggregate(name):
    metric = GENERATION_METRICS.get(name)()

    def aggregate(items):
        if metric.unavailable():  # the harness reports it as not run, with this reason
            return math.nan
        predictions, references = zip(*items)
        return metric.corpus(list(predictions), list(references))

    aggregate.__name__ = name
    return aggregate


bleu = _aggregate("bleu")
nist = _aggregate("nist")
meteor = _aggregate("meteor")
rouge_l = _aggregate("rouge_l")
cider = _aggregate("cider")
