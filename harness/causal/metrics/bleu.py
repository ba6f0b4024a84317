"""BLEU-4 with multiple references: sacrebleu's corpus BLEU (13a tokenisation = mteval-v13a, the script
the E2E challenge scores BLEU with)."""

from harness.causal.metrics.base import GenerationMetric
from harness.core.registry import GENERATION_METRICS


@GENERATION_METRICS.register("bleu")
class Bleu(GenerationMetric):

    def corpus(self, predictions, references):
        import sacrebleu

        depth = max(len(r) for r in references)
        # sacrebleu wants one stream per reference position; a missing reference is None
        streams = [[refs[k] if k < len(refs) else None for refs in references] for k in range(depth)]
        return sacrebleu.corpus_bleu(predictions, streams).score
