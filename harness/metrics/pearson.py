"""Pearson correlation (STS-B, the figure LoRA's Table 2 reports)."""

from harness.core.registry import METRICS


@METRICS.register("pearson")
def pearson(preds, labels) -> float:
    from scipy.stats import pearsonr

    return 100.0 * float(pearsonr(preds, labels)[0])


pearson.on_scores = True  # defined on real-valued predictions: the regression tasks' metrics (config checks it)
