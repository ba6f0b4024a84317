"""Accuracy (SST-2, MNLI, QNLI, RTE, ...)."""

from harness.core.registry import METRICS


@METRICS.register("accuracy")
def accuracy(preds, labels) -> float:
    from sklearn.metrics import accuracy_score

    return 100.0 * float(accuracy_score(labels, preds))
