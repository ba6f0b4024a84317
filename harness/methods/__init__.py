"""Fine-tuning methods, one module each, named as the method it registers (``base`` holds what they share).

Nothing is imported here: ``harness.core.registry.METHODS.get("lora")`` imports ``harness.methods.lora`` alone, so
adding a method is adding a module, and a run depends on its own method's module only."""
