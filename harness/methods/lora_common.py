"""What LoRA, LoRA+ and QLoRA share (settings, the peft config, the method class they build on). A module that
registers nothing, so that each of them imports this and never another method's module: a run depends on its own
method's file and the shared ones (harness/commands/deps.py), not on a sibling method."""

from __future__ import annotations

from typing import Annotated

from peft import LoraConfig, get_peft_model
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, peft_modules_to_save, peft_task_type


@dataclass(config=STRICT)
class LoraSettings(MethodSettings):
    r: Annotated[int, Field(gt=0)] = setting(8, help="the rank of every adapted weight's update")
    alpha: Annotated[float, Field(gt=0)] = setting(16, help="the update's scale is alpha / r")
    dropout: Annotated[float, Field(ge=0, lt=1)] = setting(0.1, help="dropout on the adapter's input")
    target_modules: list[str] = setting(factory=lambda: ["query", "value"], help="module-name suffixes that get an adapter")


def lora_config(cfg, task_type, modules_to_save: list[str] | None) -> LoraConfig:
    """peft config shared by LoRA, LoRA+ and QLoRA; a classifier's head is trained through ``modules_to_save``
    (SEQ_CLS's own ``classifier``/``score``, and the head modules it does not know: ``peft_modules_to_save``)."""
    return LoraConfig(
        task_type=task_type,
        modules_to_save=modules_to_save,
        r=cfg.r,
        lora_alpha=cfg.alpha,
        lora_dropout=cfg.dropout,
        target_modules=list(cfg.target_modules),
    )


class LoraAdapter(Method):
    """LoRA's adapter on the base model's weights: mergeable, for classifiers and causal LMs alike."""

    Config = LoraSettings
    mergeable = True
    causal_lm = True

    def prepare(self, model, cfg, *, total_steps):
        return get_peft_model(model, lora_config(cfg, peft_task_type(model), peft_modules_to_save(model)))
