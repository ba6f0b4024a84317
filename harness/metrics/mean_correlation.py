"""The mean of Pearson and Spearman correlations (STS-B: the "average correlation" AdaLoRA's Table 1 reports)."""

from harness.core.registry import METRICS
from harness.metrics.pearson import pearson
from harness.metrics.spearman import spearman


@METRICS.register("mean_correlation")
def mean_correlation(preds, labels) -> float:
    return (pearson(preds, labels) + spearman(preds, labels)) / 2


mean_correlation.on_scores = True
