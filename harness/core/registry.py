"""Every name -> implementation registry, in one leaf module (lm-eval's ``lm_eval/api/registry.py``, peft's
``PEFT_TYPE_TO_CONFIG_MAPPING``): members register themselves from their own module, so adding one never
edits core code, and nothing here imports them back.

Lookups resolve lazily, one member at a time: in a registry whose members are modules (methods, metrics, data
sources, causal tasks, generation metrics), ``METHODS.get("lora")`` imports ``harness.methods.lora`` (the file is
named as the member it registers) and nothing else of the package, so a run of LoRA runs, and depends on, the
LoRA module and what it imports, never its siblings (``harness deps`` writes exactly that into dvc.yaml). Only
``names()``, or a name no module carries (then the error lists the closest known ones), imports every member.
The other registries fill when their module is imported (it imports the modules that register).
``docs/extending.md`` walks through adding one of each.
"""

from __future__ import annotations

import difflib
import importlib
import importlib.util
import pkgutil
from collections.abc import Callable
from typing import Generic, TypeVar

from harness.core.errors import HarnessError

T = TypeVar("T")


class Registry(Generic[T]):
    """``kind``: what a member is, for messages. ``package``: where the members live. ``modules``: each member is the
    module ``<package>.<name>`` (looked up alone); otherwise importing ``package`` registers them all."""

    def __init__(self, kind: str, package: str, modules: bool = True):
        self.kind = kind
        self.package = package
        self.modules = modules
        self._items: dict[str, T] = {}
        self._loaded = False

    def _load_member(self, name: str) -> None:
        """Import the one module that registers ``name``, if the package has a module of that name."""
        if self.modules and name.isidentifier() and importlib.util.find_spec(f"{self.package}.{name}") is not None:
            importlib.import_module(f"{self.package}.{name}")

    def _load(self) -> None:
        # Marked first: a member module that looks a name up while the package imports must not re-enter.
        # Unmarked again if an import fails, so the next lookup raises the same error instead of finding
        # a half-filled registry and answering "unknown name" for a member that merely failed to import.
        if not self._loaded:
            self._loaded = True
            try:
                package = importlib.import_module(self.package)
                if self.modules:
                    for member in pkgutil.iter_modules(package.__path__):
                        importlib.import_module(f"{self.package}.{member.name}")
            except BaseException:
                self._loaded = False
                raise

    def register(self, name: str) -> Callable[[T], T]:
        """The member's name is written here only (peft's ``register_peft_method``), unique; in a registry whose
        members are modules it is also the module's name (so lowercase, an identifier) and a registered class gets it
        as its ``name``."""
        if self.modules and (name != name.lower() or not name.isidentifier()):
            raise ValueError(f"{self.kind} name {name!r}: lowercase letters, digits and underscores only")

        def add(item: T) -> T:
            if name in self._items:
                raise ValueError(f"{self.kind} {name!r} registered twice")
            if self.modules and isinstance(item, type):
                item.name = name
            self._items[name] = item
            return item

        return add

    def get(self, name: str, where: str | None = None) -> T:
        """The member registered as ``name``; an unknown name fails naming the closest ones (and ``where``, the key
        that holds the name: ``params.yaml: train.lora.method``)."""
        if name not in self._items:
            self._load_member(name)
        if name not in self._items:
            self._load()
        try:
            return self._items[name]
        except KeyError:
            near = difflib.get_close_matches(name, self.names(), n=3, cutoff=0.5)
            hint = f"closest: {', '.join(near)}; " if near else ""
            at = f"{where}: " if where else ""
            raise HarnessError(f"{at}unknown {self.kind} {name!r}; {hint}known: {', '.join(self.names())}") from None

    def names(self) -> list[str]:
        self._load()
        return sorted(self._items)

    def __contains__(self, name: object) -> bool:
        if isinstance(name, str) and name not in self._items:
            self._load_member(name)
        if name not in self._items:
            self._load()
        return name in self._items


METHODS: Registry = Registry("method", "harness.methods")  # fine-tuning methods, one module each
METRICS: Registry = Registry("metric", "harness.metrics")  # classification/regression task metrics
SOURCES: Registry = Registry("data source", "harness.data")  # generated, local files, hub
EMBEDDED: Registry = Registry("embedded model", "harness.engine.models", modules=False)  # weights shipped inside a package
CAUSAL_TASKS: Registry = Registry("causal task", "harness.causal.tasks")
GENERATION_METRICS: Registry = Registry("generation metric", "harness.causal.metrics")
MEASURES: Registry = Registry("measure kind", "harness.claims.kinds", modules=False)  # what of ours a claim reads
JUDGES: Registry = Registry("judge kind", "harness.claims.kinds", modules=False)  # how a claim is judged
