"""Bottleneck adapters (Houlsby et al. 2019; Pfeiffer et al. 2021): the AdapterH / AdapterP rows of the
LoRA paper's tables.

Written by hand, not with the ``adapters`` library: that library pins transformers 4.57.x and this
project runs transformers 5 (peft 0.21 and every other result depend on it); installing it would
downgrade the stack for one method. The module is small: ``h + up(relu(down(h)))`` with ``up``
initialised to zero (the adapted model starts as the base model), inserted by forward hooks on the
sub-layer output projections, before their dropout, residual and LayerNorm — Houlsby after both the
attention output and the feed-forward output of every block, Pfeiffer after the feed-forward output
only. Adapters and the task head train; the artifact is their weights (``save_trainable``).
"""

from __future__ import annotations

import re
from typing import Annotated, Literal

import torch
from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn

from harness.core.errors import HarnessError
from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, head_modules, load_trainable, save_trainable

# BERT-family names of the two sub-layer output projections
ATTENTION_OUTPUT = r"\.layer\.\d+\.attention\.output\.dense$"
FFN_OUTPUT = r"\.layer\.\d+\.output\.dense$"


@dataclass(config=STRICT)
class BottleneckSettings(MethodSettings):
    placement: Literal["houlsby", "pfeiffer"] = setting("houlsby", help=(
        "houlsby: after the attention and the feed-forward outputs; pfeiffer: after the feed-forward output only"))
    bottleneck: Annotated[int, Field(gt=0)] = setting(16, help="the adapter's hidden size")


class Bottleneck(nn.Module):
    def __init__(self, hidden: int, size: int):
        super().__init__()
        self.down = nn.Linear(hidden, size)
        self.up = nn.Linear(size, hidden)
        nn.init.zeros_(self.up.weight)
        nn.init.zeros_(self.up.bias)

    def forward(self, h: torch.Tensor) -> torch.Tensor:
        return h + self.up(torch.relu(self.down(h)))


def insertion_points(model: nn.Module, placement: str) -> list[str]:
    patterns = [FFN_OUTPUT] + ([ATTENTION_OUTPUT] if placement == "houlsby" else [])
    names = [n for n, m in model.named_modules() if isinstance(m, nn.Linear) and any(re.search(p, n) for p in patterns)]
    if not names:
        raise HarnessError(f"bottleneck: no sub-layer output projections in {type(model).__name__} (BERT-style names expected)")
    return names


@METHODS.register("bottleneck")
class BottleneckAdapters(Method):
    Config = BottleneckSettings

    def prepare(self, model, cfg, *, total_steps):
        heads = head_modules(model)  # before the adapters join the model's top level
        for p in model.parameters():
            p.requires_grad_(False)
        modules = dict(model.named_modules())
        adapters = nn.ModuleDict()
        for name in insertion_points(model, cfg.placement):
            adapter = Bottleneck(modules[name].out_features, cfg.bottleneck)
            adapters[name.replace(".", "_")] = adapter
            modules[name].register_forward_hook(lambda module, inputs, output, adapter=adapter: adapter(output))
        model.add_module("bottleneck_adapters", adapters)  # in named_parameters: trained, saved, moved with the model
        for name, p in model.named_parameters():
            if name.split(".")[0] in heads:
                p.requires_grad_(True)
        return model

    def save(self, model, out_dir):
        save_trainable(model, out_dir)

    def load(self, base, out_dir, cfg):
        return load_trainable(self.prepare(base, cfg, total_steps=0), out_dir)
