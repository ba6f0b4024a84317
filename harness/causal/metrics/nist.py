"""NIST-5 (information-weighted n-gram precision), NLTK's ``corpus_nist`` on 13a-tokenised text."""

from harness.causal.metrics.base import GenerationMetric
from harness.core.registry import GENERATION_METRICS


@GENERATION_METRICS.register("nist")
class Nist(GenerationMetric):

    def corpus(self, predictions, references):
        from nltk.translate.nist_score import corpus_nist
        from sacrebleu.tokenizers.tokenizer_13a import Tokenizer13a

        tok = Tokenizer13a()
        hyps = [tok(p).split() for p in predictions]
        refs = [[tok(r).split() for r in rs] for rs in references]
        # An n-gram order no hypothesis reaches adds 0 in mteval; NLTK divides by its zero count instead,
        # so stop at the longest hypothesis (identical for every order that has n-grams).
        order = min(5, max(map(len, hyps), default=0))
        return float(corpus_nist(refs, hyps, n=order)) if order else 0.0
