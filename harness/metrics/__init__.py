"""Task metrics by name, as GLUE defines them, in percentage points like the papers' tables.

``evaluate.load(...)`` fetches its metric scripts from the hub at run time and so fails offline;
these are the same scikit-learn / SciPy functions that evaluate's GLUE metric calls, wrapped by hand.
"""

from harness.registry import Registry

METRICS: Registry = Registry("metric")

from harness.metrics import accuracy, f1, matthews, pearson, spearman  # noqa: F401  (registration)
