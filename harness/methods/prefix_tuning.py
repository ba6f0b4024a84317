"""Prefix tuning (Li & Liang 2021) through peft: trainable key/value prefixes in every attention layer,
optionally produced by a reparameterising MLP (``projection``) as in the paper."""

from __future__ import annotations

from typing import Annotated

from peft import PrefixTuningConfig, TaskType, get_peft_model
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, peft_modules_to_save


@dataclass(config=STRICT)
class PrefixTuningSettings(MethodSettings):
    num_virtual_tokens: Annotated[int, Field(gt=0)] = setting(20, help="prefix length: key/value vectors prepended in every layer")
    projection: bool = setting(False, help="reparameterise the prefix through an MLP (peft's prefix_projection)")
    projection_hidden: Annotated[int, Field(gt=0)] = setting(256, help="the projection MLP's hidden size")


@METHODS.register("prefix_tuning")
class PrefixTuning(Method):
    Config = PrefixTuningSettings

    def prepare(self, model, cfg, *, total_steps):
        config = PrefixTuningConfig(
            task_type=TaskType.SEQ_CLS,
            modules_to_save=peft_modules_to_save(model),
            num_virtual_tokens=cfg.num_virtual_tokens,
            prefix_projection=cfg.projection,
            encoder_hidden_size=cfg.projection_hidden,
        )
        return get_peft_model(model, config)
