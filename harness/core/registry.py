"""Every name -> implementation registry, in one leaf module (lm-eval's ``lm_eval/api/registry.py``, peft's
``PEFT_TYPE_TO_CONFIG_MAPPING``): members register themselves from their own module, so adding one never
edits core code, and nothing here imports them back.

A registry fills itself on first lookup by importing the package that holds its members (that package's
``__init__`` imports every member module), so a caller asks ``METHODS.get("lora")`` without knowing which
import registers what. ``docs/extending.md`` walks through adding one of each.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable
from typing import Generic, TypeVar

from harness.core.errors import HarnessError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str, package: str):
        self.kind = kind
        self.package = package
        self._items: dict[str, T] = {}
        self._loaded = False

    def _load(self) -> None:
        # Marked first: a member module that looks a name up while the package imports must not re-enter.
        # Unmarked again if the import fails, so the next lookup raises the same error instead of finding
        # a half-filled registry and answering "unknown name" for a member that merely failed to import.
        if not self._loaded:
            self._loaded = True
            try:
                importlib.import_module(self.package)
            except BaseException:
                self._loaded = False
                raise

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        self._load()
        try:
            return self._items[name]
        except KeyError:
            raise HarnessError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        self._load()
        return name in self._items


METHODS: Registry = Registry("method", "harness.methods")  # fine-tuning methods, one module each
METRICS: Registry = Registry("metric", "harness.metrics")  # classification/regression task metrics
SOURCES: Registry = Registry("data source", "harness.data")  # generated, local files, hub
EMBEDDED: Registry = Registry("embedded model", "harness.models")  # weights shipped inside a package
CAUSAL_TASKS: Registry = Registry("causal task", "harness.causal.tasks")
GENERATION_METRICS: Registry = Registry("generation metric", "harness.causal.metrics")
MEASURES: Registry = Registry("measure kind", "harness.claims")  # what of ours a claim reads
JUDGES: Registry = Registry("judge kind", "harness.claims")  # how a claim is judged
