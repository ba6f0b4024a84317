"""CIDEr (tf-idf weighted n-gram consensus with the references, idf from the test references), pycocoevalcap."""

from harness.causal.metrics.base import GenerationMetric, coco_inputs
from harness.core.registry import GENERATION_METRICS


@GENERATION_METRICS.register("cider")
class Cider(GenerationMetric):

    def corpus(self, predictions, references):
        from pycocoevalcap.cider.cider import Cider as CocoCider

        gts, res = coco_inputs(predictions, references)
        return float(CocoCider().compute_score(gts, res)[0])
