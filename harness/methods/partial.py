"""Partial fine-tuning (the atlas's "top layers" row): the top ``k`` transformer blocks, everything above
them (pooler, task head) train; embeddings and lower blocks stay frozen."""

from __future__ import annotations

from typing import Annotated

from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn

from harness.core.errors import HarnessError
from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, load_trainable, save_trainable


@dataclass(config=STRICT)
class PartialSettings(MethodSettings):
    top_layers: Annotated[int, Field(gt=0)] = setting(2, help="the top encoder blocks trained in full (with the pooler and head)")


def block_list(model: nn.Module) -> tuple[str, nn.ModuleList]:
    """The stack of transformer blocks: the ModuleList as long as ``config.num_hidden_layers``."""
    n = model.config.num_hidden_layers
    for name, module in model.named_modules():
        if isinstance(module, nn.ModuleList) and len(module) == n:
            return name, module
    raise HarnessError(f"partial: cannot find the {n} transformer blocks of {type(model).__name__}")


@METHODS.register("partial")
class Partial(Method):
    Config = PartialSettings

    def prepare(self, model, cfg, *, total_steps):
        """Transformers models register modules in forward order (embeddings, blocks, pooler, head), so
        the trainable set is every parameter from the first one of block ``n - k`` on."""
        _, blocks = block_list(model)
        if cfg.top_layers > len(blocks):
            raise HarnessError(f"top_layers: {cfg.top_layers} exceeds the model's {len(blocks)} blocks")
        start = next(iter(blocks[len(blocks) - cfg.top_layers].parameters()))
        on = False
        for p in model.parameters():
            on = on or p is start
            p.requires_grad_(on)
        return model

    def save(self, model, out_dir):
        save_trainable(model, out_dir)

    def load(self, base, out_dir, cfg):
        return load_trainable(base, out_dir)
