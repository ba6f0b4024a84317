"""Paths that only the reports (``tabulate``, ``atlas``) and the claims engine read or write.

Kept apart from :mod:`harness.core.paths`, which every stage imports: adding a report's file here reruns the two
reports alone, not every stage of every pipeline. The same rule holds for both modules: a path under results/,
models/, data/ or experiments/ is written in one of them and nowhere else (tests/test_architecture.py).
"""

from __future__ import annotations

from pathlib import Path

# what an arm of a comparison must reach on validation before the comparison is judged (harness/claims/competence.py)
COMPETENCE = Path("experiments") / "competence.yaml"
SEED_PLAN = Path("experiments") / "seed_plan.yaml"  # the sequential design that adds seeds to open claims
SEED_PLAN_RECORD = Path("experiments") / "seed_plan_applied.json"  # what `harness seed-plan --apply` extended, look by look
# each study's own headline, <study>.json (harness/report/headline.py): dvc metrics show results/studies/<study>.json
STUDY_HEADLINES = Path("results") / "studies"
