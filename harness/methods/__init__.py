"""Registered fine-tuning methods: every module in this package registers one (or a family); adding a
method is adding a module, nothing else changes."""

import importlib
import pkgutil

from harness.registry import Registry

METHODS: Registry = Registry("method")

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
