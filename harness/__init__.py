"""peft-repro: rerun a PEFT paper's experiments and judge its claims against what was measured."""

__version__ = "0.1.0"
