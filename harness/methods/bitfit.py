"""BitFit (Ben Zaken et al. 2022): train only the bias terms (plus the task head)."""

from __future__ import annotations

from harness.core.registry import METHODS
from harness.methods.base import Method, MethodSettings, head_modules, load_trainable, save_trainable


@METHODS.register("bitfit")
class BitFit(Method):
    Config = MethodSettings

    def prepare(self, model, cfg, *, total_steps):
        heads = head_modules(model)  # the task head trains, as in the paper
        for name, param in model.named_parameters():
            param.requires_grad_(name.endswith(".bias") or name.split(".")[0] in heads)
        return model

    def save(self, model, out_dir):
        save_trainable(model, out_dir)  # a few hundred KB instead of the whole model

    def load(self, base, out_dir, cfg):
        return load_trainable(base, out_dir)
