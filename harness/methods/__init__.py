"""Registered fine-tuning methods. A new method is one module here plus its import line below."""

from harness.registry import Registry

METHODS: Registry = Registry("method")

from harness.methods import adalora, bitfit, full, lora, loraplus  # noqa: E402,F401  (registration side effects)
