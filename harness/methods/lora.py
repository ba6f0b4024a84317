"""LoRA (Hu et al. 2021) through peft: the paper's baseline."""

from __future__ import annotations

from harness.core.registry import METHODS
from harness.methods.lora_common import LoraAdapter


@METHODS.register("lora")
class Lora(LoraAdapter):
    """Plain LoRA: everything is in :class:`LoraAdapter`."""
