"""Full fine-tuning: every weight trains. The quality and cost reference the PEFT methods are compared with."""

from __future__ import annotations

from pydantic import Field
from pydantic.dataclasses import dataclass
from transformers import AutoModelForSequenceClassification
from typing_extensions import Annotated

from harness.config import STRICT
from harness.methods import METHODS
from harness.methods.base import Method


@dataclass(config=STRICT)
class FullSettings:
    method: str = "full"
    lr: Annotated[float, Field(gt=0)] | None = None


@METHODS.register("full")
class Full(Method):
    name = "full"
    Config = FullSettings

    def prepare(self, model, cfg, *, total_steps):
        for p in model.parameters():
            p.requires_grad_(True)
        return model

    def load(self, base, out_dir):
        return AutoModelForSequenceClassification.from_pretrained(out_dir)
