"""CIDEr (tf-idf weighted n-gram consensus with the references, idf from the test references), pycocoevalcap."""

from harness.causal.metrics import GENERATION_METRICS, GenerationMetric, coco_inputs


@GENERATION_METRICS.register("cider")
class Cider(GenerationMetric):
    name = "cider"

    def corpus(self, predictions, references):
        from pycocoevalcap.cider.cider import Cider as CocoCider

        gts, res = coco_inputs(predictions, references)
        return float(CocoCider().compute_score(gts, res)[0])
