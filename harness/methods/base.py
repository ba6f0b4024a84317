"""What every fine-tuning method provides to the training loop, and the defaults most share."""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar

import torch
from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn
from typing_extensions import Annotated

from harness.config import STRICT


@dataclass(config=STRICT)
class MethodSettings:
    """What every run section has: the method's registered name and an optional learning rate
    that overrides ``loop.lr`` for this run. Methods extend it with their own fields."""

    method: str
    lr: Annotated[float, Field(gt=0)] | None = None


class Method:
    """One adaptation method. Subclasses set ``name`` and ``Config`` and override what differs.

    The loop calls, in order: :meth:`prepare` (after the seed is set, so adapter init is seeded),
    :meth:`optimizer`, then per step ``backward -> clip -> optimizer.step -> scheduler.step ->``
    :meth:`before_zero_grad` ``-> zero_grad``, and finally :meth:`report` and :meth:`save`.
    """

    name: ClassVar[str]
    Config: ClassVar[type]

    def prepare(self, model: nn.Module, cfg: Any, *, total_steps: int) -> nn.Module:
        raise NotImplementedError

    def optimizer(self, model: nn.Module, cfg: Any, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)

    def before_zero_grad(self, model: nn.Module, step: int) -> None:
        """Hook with gradients still present after the optimizer step (AdaLoRA's allocator needs it)."""

    def report(self, model: nn.Module, cfg: Any) -> dict[str, Any]:
        """Method-specific results worth keeping (e.g. AdaLoRA's final rank pattern)."""
        return {}

    def save(self, model: nn.Module, out_dir: Path) -> None:
        model.save_pretrained(out_dir)

    def load(self, base: nn.Module, out_dir: Path) -> nn.Module:
        from peft import PeftModel

        return PeftModel.from_pretrained(base, out_dir)


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
