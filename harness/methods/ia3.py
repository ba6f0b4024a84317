"""(IA)^3 (Liu et al. 2022) through peft: learned vectors rescale keys, values and the feed-forward
activations. The targets are regular expressions because BERT names its FFN down-projection
``layer.N.output.dense`` and its attention output ``layer.N.attention.output.dense``: a suffix list
cannot tell them apart."""

from __future__ import annotations

from peft import IA3Config, TaskType, get_peft_model
from pydantic.dataclasses import dataclass

from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, peft_modules_to_save


@dataclass(config=STRICT)
class IA3Settings(MethodSettings):
    target_modules: str = setting(r".*\.layer\.\d+\.(attention\.self\.(key|value)|output\.dense)$", help=(
        "a regex of the modules whose activations get a learned scaling vector"))
    feedforward_modules: str = setting(r".*\.layer\.\d+\.output\.dense$", help=(
        "those of target_modules scaled on their input (the feed-forward activation)"))


@METHODS.register("ia3")
class IA3(Method):
    Config = IA3Settings
    mergeable = True

    def prepare(self, model, cfg, *, total_steps):
        config = IA3Config(
            task_type=TaskType.SEQ_CLS, target_modules=cfg.target_modules, feedforward_modules=cfg.feedforward_modules,
            modules_to_save=peft_modules_to_save(model),
        )
        return get_peft_model(model, config)
