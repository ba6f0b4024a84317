"""METEOR 1.5 through pycocoevalcap (a Java jar with its paraphrase tables, no download): needs ``java``."""

import shutil

from harness.causal.metrics.base import GenerationMetric, coco_inputs
from harness.core.registry import GENERATION_METRICS


@GENERATION_METRICS.register("meteor")
class Meteor(GenerationMetric):

    def unavailable(self):
        if shutil.which("java") is None:
            return "METEOR 1.5 is a Java program (pycocoevalcap runs its jar); no java on PATH"
        return None

    def corpus(self, predictions, references):
        from pycocoevalcap.meteor.meteor import Meteor as CocoMeteor

        gts, res = coco_inputs(predictions, references)
        return 100 * float(CocoMeteor().compute_score(gts, res)[0])  # the jar process ends with the scorer
