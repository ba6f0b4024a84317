"""Full fine-tuning: every weight trains. The quality and cost reference the PEFT methods are compared with."""

from __future__ import annotations

from transformers import AutoModelForSequenceClassification

from harness.core.registry import METHODS
from harness.methods.base import Method, MethodSettings


@METHODS.register("full")
class Full(Method):
    Config = MethodSettings
    causal_lm = True

    def prepare(self, model, cfg, *, total_steps):
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def load(self, base, out_dir, cfg):
        return AutoModelForSequenceClassification.from_pretrained(out_dir)
