"""Prompt tuning (Lester et al. 2021) through peft: ``num_virtual_tokens`` trainable input embeddings
prepended to every sequence; the model itself stays frozen (the head trains, as for every PEFT run)."""

from __future__ import annotations

from typing import Annotated

from peft import PromptTuningConfig, PromptTuningInit, TaskType, get_peft_model
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, peft_modules_to_save


@dataclass(config=STRICT)
class PromptTuningSettings(MethodSettings):
    num_virtual_tokens: Annotated[int, Field(gt=0)] = setting(20, help="soft-prompt length: embeddings prepended to the input")


@METHODS.register("prompt_tuning")
class PromptTuning(Method):
    Config = PromptTuningSettings

    def prepare(self, model, cfg, *, total_steps):
        config = PromptTuningConfig(
            task_type=TaskType.SEQ_CLS, num_virtual_tokens=cfg.num_virtual_tokens, prompt_tuning_init=PromptTuningInit.RANDOM,
            modules_to_save=peft_modules_to_save(model),
        )
        return get_peft_model(model, config)
