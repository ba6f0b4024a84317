"""Binary F1 of the positive class (MRPC, QQP), as GLUE reports it."""

from sklearn.metrics import f1_score

from harness.metrics import METRICS


@METRICS.register("f1")
def f1(preds, labels) -> float:
    return 100.0 * float(f1_score(labels, preds))
