"""Spearman rank correlation (STS-B; AdaLoRA averages it with Pearson)."""

from scipy.stats import spearmanr

from harness.metrics import METRICS


@METRICS.register("spearman")
def spearman(preds, labels) -> float:
    return 100.0 * float(spearmanr(preds, labels)[0])
