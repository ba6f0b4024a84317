import math

import numpy as np
import pytest

from harness.metrics import METRICS
from harness.stats import summarize


def test_metrics_on_hand_computed_cases():
    preds, labels = np.array([1, 0, 1, 1]), np.array([1, 1, 1, 0])
    assert METRICS.get("accuracy")(preds, labels) == 50.0
    # tp=2 fp=1 fn=1 -> precision = recall = 2/3 -> F1 2/3
    assert METRICS.get("f1")(preds, labels) == pytest.approx(200 / 3)
    # tp=2 tn=0 fp=1 fn=1: (2*0 - 1*1) / sqrt(3*3*1*1) = -1/3
    assert METRICS.get("matthews")(preds, labels) == pytest.approx(-100 / 3)
    x = np.array([1.0, 2.0, 3.0, 4.0])
    assert METRICS.get("pearson")(2 * x + 1, x) == pytest.approx(100.0)
    assert METRICS.get("spearman")(x**3, x) == pytest.approx(100.0)


def test_summarize_interval():
    s = summarize([1.0, 2.0, 3.0])
    assert s["mean"] == 2.0 and s["std"] == 1.0 and s["n"] == 3
    # t(0.975, 2) = 4.3027
    assert s["ci_high"] - 2.0 == pytest.approx(4.302653 / math.sqrt(3), rel=1e-5)


def test_summarize_one_seed_and_nan():
    assert summarize([5.0]) == {"mean": 5.0, "std": None, "n": 1, "ci_low": None, "ci_high": None}
    assert summarize([float("nan"), 1.0, 3.0])["n"] == 2
    assert summarize([])["mean"] is None
