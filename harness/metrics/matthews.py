"""Matthews correlation coefficient (CoLA)."""

from harness.core.registry import METRICS


@METRICS.register("matthews")
def matthews(preds, labels) -> float:
    from sklearn.metrics import matthews_corrcoef

    return 100.0 * float(matthews_corrcoef(labels, preds))
