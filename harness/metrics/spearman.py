"""Spearman rank correlation (STS-B; AdaLoRA averages it with Pearson)."""

from harness.core.registry import METRICS


@METRICS.register("spearman")
def spearman(preds, labels) -> float:
    from scipy.stats import spearmanr

    return 100.0 * float(spearmanr(preds, labels)[0])


spearman.on_scores = True  # defined on real-valued predictions: the regression tasks' metrics (config checks it)
