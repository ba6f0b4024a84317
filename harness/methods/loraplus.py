"""LoRA+ (Hayou et al. 2024): LoRA with lr_B = ratio * lr_A, via peft's ``create_loraplus_optimizer``."""

from __future__ import annotations

from typing import Annotated

import torch
from peft.optimizers import create_loraplus_optimizer
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.lora_common import LoraAdapter, LoraSettings


@dataclass(config=STRICT)
class LoraPlusSettings(LoraSettings):
    lr_ratio: Annotated[float, Field(ge=1)] = setting(16.0, help="the B matrices' lr over the A matrices' (LoRA+'s lambda)")


@METHODS.register("loraplus")
class LoraPlus(LoraAdapter):
    Config = LoraPlusSettings

    def optimizer(self, model, cfg, *, lr, weight_decay):
        return create_loraplus_optimizer(
            model, torch.optim.AdamW, lr=lr, loraplus_lr_ratio=cfg.lr_ratio, loraplus_weight_decay=weight_decay
        )
