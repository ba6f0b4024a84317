"""Accuracy (SST-2, MNLI, QNLI, RTE, ...)."""

from sklearn.metrics import accuracy_score

from harness.metrics import METRICS


@METRICS.register("accuracy")
def accuracy(preds, labels) -> float:
    return 100.0 * float(accuracy_score(labels, preds))
