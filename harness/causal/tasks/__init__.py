"""Registered causal-LM tasks: every module in this package registers one."""

import importlib
import pkgutil

from harness.registry import Registry

TASKS: Registry = Registry("causal task")

for _module in pkgutil.iter_modules(__path__):
    if _module.name != "base":
        importlib.import_module(f"{__name__}.{_module.name}")
