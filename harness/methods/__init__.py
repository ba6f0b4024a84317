"""Fine-tuning methods, one module each (``base`` holds what they share); importing the package registers
them all (``harness.core.registry.METHODS``): adding a method is adding a module, nothing else changes."""

import importlib
import pkgutil

for _module in pkgutil.iter_modules(__path__):
    importlib.import_module(f"{__name__}.{_module.name}")
