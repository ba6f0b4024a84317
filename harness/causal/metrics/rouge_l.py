"""ROUGE-L (LCS F-measure, beta 1.2, best over references) as pycocoevalcap computes it for E2E."""

from harness.causal.metrics.base import GenerationMetric, coco_inputs
from harness.core.registry import GENERATION_METRICS


@GENERATION_METRICS.register("rouge_l")
class RougeL(GenerationMetric):

    def corpus(self, predictions, references):
        from pycocoevalcap.rouge.rouge import Rouge

        gts, res = coco_inputs(predictions, references)
        return 100 * float(Rouge().compute_score(gts, res)[0])
