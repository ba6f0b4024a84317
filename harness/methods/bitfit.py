"""BitFit (Ben Zaken et al. 2022): train only the bias terms (plus the task head)."""

from __future__ import annotations

from harness.errors import HarnessError
from harness.methods import METHODS
from harness.methods.base import Method, MethodSettings

HEADS = ("classifier", "score")  # task heads of sequence-classification models: trained as in the paper


@METHODS.register("bitfit")
class BitFit(Method):
    name = "bitfit"
    Config = MethodSettings

    def prepare(self, model, cfg, *, total_steps):
        for name, param in model.named_parameters():
            param.requires_grad_(name.endswith(".bias") or name.split(".")[0] in HEADS)
        return model

    def save(self, model, out_dir):
        """Only what trained: the biases and the head (a few hundred KB instead of the whole model)."""
        from safetensors.torch import save_file

        out_dir.mkdir(parents=True, exist_ok=True)
        save_file({n: p.detach().contiguous() for n, p in model.named_parameters() if p.requires_grad}, out_dir / "bitfit.safetensors")

    def load(self, base, out_dir):
        from safetensors.torch import load_file

        loaded = base.load_state_dict(load_file(out_dir / "bitfit.safetensors"), strict=False)
        if loaded.unexpected_keys:
            raise HarnessError(f"{out_dir}: BitFit weights for parameters the base model lacks: {', '.join(loaded.unexpected_keys[:3])}")
        return base
