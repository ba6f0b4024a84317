"""Task metrics by name, as GLUE defines them, in percentage points like the papers' tables.

``evaluate.load(...)`` fetches its metric scripts from the hub at run time and so fails offline;
these are the same scikit-learn / SciPy functions that evaluate's GLUE metric calls, wrapped by hand.
Each imports its library when first called: registering them runs in every stage process (params.yaml
names metrics), and importing scikit-learn there would cost every stage ~2 s of start-up.

One module each; each is named as what it registers and imported when the registry (``harness.core.registry.METRICS``) first looks its name up.
"""
