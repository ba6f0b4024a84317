"""Causal-LM tasks, one module each; each is named as what it registers and imported when the registry (``harness.core.registry.CAUSAL_TASKS``) first looks its name up."""
