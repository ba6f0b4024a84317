"""Causal-LM tasks, one module each; importing the package registers them all (``harness.core.registry.CAUSAL_TASKS``)."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
