"""Matthews correlation coefficient (CoLA)."""

from sklearn.metrics import matthews_corrcoef

from harness.metrics import METRICS


@METRICS.register("matthews")
def matthews(preds, labels) -> float:
    return 100.0 * float(matthews_corrcoef(labels, preds))
