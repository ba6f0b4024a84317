"""Name -> implementation registries, in the style of peft's tuner mapping and lm-eval's task registry.

Methods, data sources, metrics and base models register themselves from their own module, so adding
one never edits core code: a new method is a new file in ``harness/methods`` (the package imports
every module in it); a data source or metric is a new file plus its import line in the package
``__init__``.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Generic, TypeVar

from harness.errors import HarnessError

T = TypeVar("T")


class Registry(Generic[T]):
    def __init__(self, kind: str):
        self.kind = kind
        self._items: dict[str, T] = {}

    def register(self, name: str) -> Callable[[T], T]:
        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            self._items[name] = item
            return item

        return add

    def get(self, name: str) -> T:
        try:
            return self._items[name]
        except KeyError:
            raise HarnessError(f"unknown {self.kind} {name!r}; known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        return name in self._items
