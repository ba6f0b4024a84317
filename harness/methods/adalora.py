"""AdaLoRA (Zhang et al., ICLR 2023) through peft: LoRA in SVD form whose rank budget is reallocated during training.

Done the way peft requires and HF Trainer does not do for you: ``total_step`` is set to the real number
of optimizer steps, ``update_and_allocate(step)`` runs every step after ``optimizer.step()`` and before
``zero_grad()`` (the importance scores read the gradients), the classifier head stays out of
``target_modules`` (it is trained through SEQ_CLS's ``modules_to_save``; a head matched by
``target_modules`` gets frozen SVD weights that crash the allocator), and the orthogonal
regulariser stays on (peft adds it to the loss inside ``forward``).
"""

from __future__ import annotations

from typing import Annotated, Any

import torch
from peft import AdaLoraConfig, get_peft_model
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.errors import HarnessError
from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.methods.base import Method, MethodSettings, peft_modules_to_save, peft_task_type

Unit = Annotated[float, Field(gt=0, lt=1)]


@dataclass(config=STRICT)
class AdaLoraSettings(MethodSettings):
    """AdaLoRA under ``train.<run>`` (peft's ``AdaLoraConfig``; the schedule in steps or fractions of the run).

    Every adapted module starts at rank ``init_r``; after ``tinit`` warm-up steps the allocator prunes the
    least important singular values every ``deltaT`` steps until, ``tfinal`` steps before the end, the model
    holds ``target_r`` per module on average (the budget), then keeps that allocation::

        train:
          adalora:
            method: adalora
            init_r: 12                  # every module starts here ...
            target_r: 8                 # ... and the model ends at 8 per module on average
            target_modules: [query, value]
            tinit: 0.1                  # 10% of the steps at full rank
            tfinal: 0.3                 # the last 30% at the final allocation
            deltaT: 10                  # reallocate every 10 steps in between
            lr: 8.0e-4                  # the default the tune stage's grid multiplies
    """

    init_r: Annotated[int, Field(gt=0)] = setting(12, help="the rank every adapted module starts at")
    target_r: Annotated[int, Field(gt=0)] = setting(8, help="the average rank per module at the end (the budget)")
    alpha: Annotated[float, Field(gt=0)] = setting(16, help="the update's scale (peft's lora_alpha)")
    dropout: Annotated[float, Field(ge=0, lt=1)] = setting(0.1, help="dropout on the adapter's input")
    target_modules: list[str] = setting(factory=lambda: ["query", "value"], help="module-name suffixes that get an adapter")
    tinit: Annotated[int, Field(ge=0)] | Annotated[float, Field(ge=0, lt=1)] = setting(0.1, help=(
        "warm-up at full rank: an integer is steps (the paper's Table 8 gives steps), a float below 1 a fraction of the run"))
    tfinal: Annotated[int, Field(ge=0)] | Annotated[float, Field(ge=0, lt=1)] = setting(0.3, help=(
        "the final stretch at the final allocation: steps, or a fraction of the run"))
    deltaT: Annotated[int, Field(gt=0)] = setting(10, help="steps between reallocations")
    beta1: Unit = setting(0.85, help="EMA factor of the importance scores' sensitivity")
    beta2: Unit = setting(0.85, help="EMA factor of the importance scores' uncertainty")
    orth_reg_weight: Annotated[float, Field(ge=0)] = setting(0.1, help=(
        "weight of the orthogonality penalty on P and Q; 0: the paper's \"without orthogonal regularisation\" ablation"))
    allocate: bool = setting(True, help=(
        "false: the fixed-budget ablation, SVD-form LoRA whose rank never moves (the loop never calls update_and_allocate; "
        "peft cannot express it by config); target_r must then equal init_r"))

    def __post_init__(self) -> None:
        if self.target_r > self.init_r:
            raise ValueError(f"target_r ({self.target_r}) must not exceed init_r ({self.init_r})")
        if not self.allocate and self.target_r != self.init_r:
            raise ValueError(f"allocate: false keeps a fixed budget, so target_r ({self.target_r}) must equal init_r ({self.init_r})")
        if isinstance(self.tinit, float) and isinstance(self.tfinal, float) and self.tinit + self.tfinal >= 1:
            raise ValueError(f"tinit + tfinal ({self.tinit} + {self.tfinal}) must leave room for the budget schedule (< 1)")


def schedule_steps(cfg: AdaLoraSettings, total_steps: int) -> tuple[int, int]:
    def steps(value: float) -> int:
        return value if isinstance(value, int) else int(value * total_steps)

    tinit, tfinal = steps(cfg.tinit), steps(cfg.tfinal)
    if total_steps - tinit - tfinal < 1:
        raise HarnessError(f"adalora: {total_steps} steps leave no room for the budget schedule (tinit {tinit}, tfinal {tfinal})")
    return tinit, tfinal


@METHODS.register("adalora")
class AdaLora(Method):
    Config = AdaLoraSettings
    mergeable = True
    causal_lm = True

    def prepare(self, model, cfg, *, total_steps):
        self.allocate = cfg.allocate
        tinit, tfinal = schedule_steps(cfg, total_steps)
        config = AdaLoraConfig(
            task_type=peft_task_type(model),
            modules_to_save=peft_modules_to_save(model),
            init_r=cfg.init_r,
            target_r=cfg.target_r,
            lora_alpha=cfg.alpha,
            lora_dropout=cfg.dropout,
            target_modules=list(cfg.target_modules),
            total_step=total_steps,
            tinit=tinit,
            tfinal=tfinal,
            deltaT=cfg.deltaT,
            beta1=cfg.beta1,
            beta2=cfg.beta2,
            orth_reg_weight=cfg.orth_reg_weight,
        )
        return get_peft_model(model, config)

    def before_zero_grad(self, model, step):
        if self.allocate:
            model.base_model.update_and_allocate(step)

    def loop_state(self, model):
        """The allocator's importance averages, and the rank pattern once the budget is final: a resumed run
        allocates as the uninterrupted one would. The pattern leaves the config while the Trainer saves the
        adapter: peft saves an AdaLoRA adapter with a pattern cut to its kept ranks, which loads only into a
        cut model, while training goes on with the full tensors, masked."""
        allocator, config = model.base_model.rankallocator, model.peft_config[model.active_adapter]
        state = {"ipt": allocator.ipt, "exp_avg_ipt": allocator.exp_avg_ipt, "exp_avg_unc": allocator.exp_avg_unc, "rank_pattern": config.rank_pattern}
        config.rank_pattern = None
        return state

    def load_loop_state(self, model, state):
        allocator = model.base_model.rankallocator
        allocator.ipt, allocator.exp_avg_ipt, allocator.exp_avg_unc = state["ipt"], state["exp_avg_ipt"], state["exp_avg_unc"]
        model.peft_config[model.active_adapter].rank_pattern = state["rank_pattern"]

    def effective_params(self, model):
        """Kept triplets plus whatever else trains (the head): masked triplets are zeros a pruned
        checkpoint would not store."""
        ranks = final_ranks(model)
        others = sum(p.numel() for n, p in model.named_parameters() if p.requires_grad and ".lora_" not in n)
        return final_adapter_params(model, ranks) + others

    def report(self, model, cfg) -> dict[str, Any]:
        ranks = final_ranks(model)
        return {
            "rank_pattern": ranks,
            "init_r": cfg.init_r,
            "target_r": cfg.target_r,
            "final_adapter_params": final_adapter_params(model, ranks),
            "modules_below_init_r": sum(r < cfg.init_r for r in ranks.values()),
        }


def final_adapter_params(model, ranks: dict[str, int]) -> int:
    """Parameters the kept triplets use (a column of B, a row of A and one singular value each):
    the budget to match against LoRA's ``r * (in + out)`` per module."""
    modules = dict(model.named_modules())
    total = 0
    for name, rank in ranks.items():
        layer = modules["base_model.model." + name]
        total += rank * (layer.in_features + layer.out_features + 1)
    return total


def final_ranks(model) -> dict[str, int]:
    """Rank kept per adapted module, from peft's allocation mask (``rank_pattern``).

    Before the allocator has run, peft has no pattern: every module then reports ``init_r``, which is
    how a loop that never calls ``update_and_allocate`` shows up in the results.
    """
    config = model.peft_config["default"]
    pattern = config.rank_pattern or {}
    ranks = {}
    for name, module in model.named_modules():
        E = getattr(module, "lora_E", None)
        if isinstance(E, torch.nn.ParameterDict) and "default" in E:
            short = name.removeprefix("base_model.model.")
            mask = pattern.get(f"{short}.lora_E.default", pattern.get(f"{short}.lora_E"))
            ranks[short] = int(sum(bool(m) for m in mask)) if mask is not None else config.init_r
    return ranks
