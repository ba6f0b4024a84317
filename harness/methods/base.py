"""What every fine-tuning method provides to the training loop, and the defaults most share."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, ClassVar

import torch
from pydantic import Field
from pydantic.dataclasses import dataclass
from torch import nn

from harness.core.schema import STRICT, setting


@dataclass(config=STRICT)
class MethodSettings:
    """What every run section has: the method's registered name, and optional overrides for this run of the
    loop's learning rate (the default the tune stage scales: the method's published or documented value),
    the validation-curve interval (only runs whose claims read the curve need it: each point scores
    ``loop.track_examples`` examples) and the seeds (runs no claim compares across methods may run fewer
    than the top-level list). Methods extend it with their own fields."""

    method: str = setting(help="the registered method this run trains (harness/methods/<name>.py)")
    lr: Annotated[float, Field(gt=0)] | None = setting(None, help="this run's default lr (the tune stage scales it); null: loop.lr")
    track_every: Annotated[int, Field(ge=0)] | None = setting(None, help="this run's validation-curve interval; null: loop.track_every")
    seeds: Annotated[list[int], Field(min_length=1)] | None = setting(None, help="this run's seeds; null: the top-level seeds")


class Method:
    """One adaptation method. Subclasses set ``Config`` and override what differs; ``name`` is set by the
    registry when the class registers.

    The loop (harness/engine/trainer.py, transformers' Trainer) calls, in order: :meth:`base_model` and
    :meth:`prepare` (after the seed is set, so adapter init is seeded), :meth:`optimizer`, then per step
    ``backward -> clip -> optimizer.step ->`` :meth:`before_zero_grad` (the Trainer's ``on_optimizer_step``)
    ``-> scheduler.step -> zero_grad``, and finally :meth:`report` and :meth:`save`. A method with ``trains = False`` gets :meth:`fit` instead of the loop.
    """

    name: ClassVar[str]  # set by the registry when the class registers
    Config: ClassVar[type]
    trains: ClassVar[bool] = True  # False: no gradient steps (retrieval); the train stage calls fit()
    mergeable: ClassVar[bool] = False  # the adapter folds into the base weights (peft merge_and_unload)
    causal_lm: ClassVar[bool] = False  # also adapts causal LMs (the causal-LM track, harness/stages/causal_train.py)

    def base_model(self, model_cfg: Any, num_labels: int, cfg: Any) -> nn.Module:
        """The base classifier this method starts from (QLoRA loads it quantized)."""
        from harness.engine.models import load_classifier

        return load_classifier(model_cfg.name, num_labels, model_cfg.dtype)

    def fit(self, model: nn.Module, cfg: Any, dataset, tokenizer, device: torch.device) -> nn.Module:
        """For methods without gradient steps: build the predictor from the training split."""
        raise NotImplementedError

    def prepare(self, model: nn.Module, cfg: Any, *, total_steps: int) -> nn.Module:
        raise NotImplementedError

    def optimizer(self, model: nn.Module, cfg: Any, *, lr: float, weight_decay: float) -> torch.optim.Optimizer:
        params = [p for p in model.parameters() if p.requires_grad]
        return torch.optim.AdamW(params, lr=lr, weight_decay=weight_decay)

    def before_zero_grad(self, model: nn.Module, step: int) -> None:
        """Hook with gradients still present after the optimizer step (AdaLoRA's allocator needs it)."""

    def loop_state(self, model: nn.Module) -> dict[str, Any]:
        """What the method keeps across steps outside the model and the optimizer, for a checkpoint to save
        beside the Trainer's (empty: nothing). It may take out of the model what the Trainer's save of the
        model must not see: :meth:`load_loop_state` puts it back once that save is done, and on resume."""
        return {}

    def load_loop_state(self, model: nn.Module, state: dict[str, Any]) -> None:
        """Put back what :meth:`loop_state` returned."""

    def report(self, model: nn.Module, cfg: Any) -> dict[str, Any]:
        """Method-specific results worth keeping (e.g. AdaLoRA's final rank pattern)."""
        return {}

    def effective_params(self, model: nn.Module) -> int:
        """Parameters the trained artifact needs: the budget axis of sweeps and Pareto plots. Equal to
        the trainable count unless training prunes (AdaLoRA)."""
        return trainable_parameters(model)

    def save(self, model: nn.Module, out_dir: Path) -> None:
        model.save_pretrained(out_dir)

    def load(self, base: nn.Module, out_dir: Path, cfg: Any) -> nn.Module:
        from peft import PeftModel

        return PeftModel.from_pretrained(base, out_dir)


def peft_task_type(model: nn.Module):
    """peft's task type for the model at hand: causal LMs keep their LM head, classifiers train theirs
    through ``modules_to_save``."""
    from peft import TaskType
    from transformers.models.auto.modeling_auto import MODEL_FOR_CAUSAL_LM_MAPPING_NAMES

    return TaskType.CAUSAL_LM if type(model).__name__ in MODEL_FOR_CAUSAL_LM_MAPPING_NAMES.values() else TaskType.SEQ_CLS


PEFT_HEADS = ("classifier", "score")  # what peft's sequence-classification wrapper trains by itself


def head_modules(model: nn.Module) -> list[str]:
    """The top-level modules of a sequence classifier outside its pretrained backbone that hold weights: the task head,
    which every method trains (BERT's and RoBERTa's ``classifier``; DeBERTa's ``pooler`` and ``classifier``, as
    DeBERTa's pooler sits outside its backbone and the DeBERTaV3 checkpoints do not hold it). A causal LM or a bare
    backbone (paperscale's body-only counts): none."""
    from peft import TaskType

    if peft_task_type(model) == TaskType.CAUSAL_LM or getattr(model, "base_model", model) is model:  # a bare backbone has no head
        return []
    return [name for name, child in model.named_children() if name != model.base_model_prefix and any(True for _ in child.parameters())]


def peft_modules_to_save(model: nn.Module) -> list[str] | None:
    """The head modules peft's sequence-classification wrapper would leave frozen (DeBERTa's pooler), for a peft
    config's ``modules_to_save``; None where it trains the whole head by itself."""
    extra = [name for name in head_modules(model) if name not in PEFT_HEADS]
    return extra or None


TRAINABLE_FILE = "trainable.safetensors"


def save_trainable(model: nn.Module, out_dir: Path) -> None:
    """Only what trained (biases, top layers, adapters, the head): a method's whole artifact."""
    from safetensors.torch import save_file

    out_dir.mkdir(parents=True, exist_ok=True)
    save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}, out_dir / TRAINABLE_FILE)


def load_trainable(model: nn.Module, out_dir: Path) -> nn.Module:
    """Load :func:`save_trainable`'s tensors into ``model`` (prepared the same way); unknown names are an error."""
    from safetensors.torch import load_file

    from harness.core.errors import HarnessError

    path = out_dir / TRAINABLE_FILE
    if not path.is_file():
        raise HarnessError(f"{path}: trained weights missing; rerun the train stage")
    loaded = model.load_state_dict(load_file(path), strict=False)
    if loaded.unexpected_keys:
        raise HarnessError(f"{path}: weights for parameters the model lacks: {', '.join(loaded.unexpected_keys[:3])}")
    return model


def trainable_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters() if p.requires_grad)


def total_parameters(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())
