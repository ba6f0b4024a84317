"""Binary F1 of the positive class (MRPC, QQP), as GLUE reports it."""

from harness.core.registry import METRICS


@METRICS.register("f1")
def f1(preds, labels) -> float:
    from sklearn.metrics import f1_score

    return 100.0 * float(f1_score(labels, preds))
