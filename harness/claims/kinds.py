"""Importing this module registers every measure and judge kind (``harness.core.registry``'s ``MEASURES`` and
``JUDGES`` import it on their first lookup); the claims package itself imports nothing, so a module that needs only
:mod:`harness.claims.stats` does not load the claims engine."""

from harness.claims import judges, measures, suite  # noqa: F401  (each registers its kinds)
