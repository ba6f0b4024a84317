"""QLoRA (Dettmers et al. 2023): LoRA on a base quantised to 4-bit NormalFloat with double quantisation.

The base loads through transformers' bitsandbytes integration (``BitsAndBytesConfig``): every linear
layer of the encoder becomes ``bnb.nn.Linear4bit`` (NF4, block-wise absmax, the absmax constants
quantised again); the task head is skipped (``llm_int8_skip_modules``) and trains in full precision.
peft's ``prepare_model_for_kbit_training`` readies the rest (norms in fp32, input grads) and LoRA goes
on top. On CPU bitsandbytes dequantises in PyTorch; on CUDA it uses its kernels.
"""

from __future__ import annotations

from typing import Literal

from peft import TaskType, get_peft_model, prepare_model_for_kbit_training
from pydantic.dataclasses import dataclass
from transformers import BitsAndBytesConfig

from harness.core.registry import METHODS
from harness.core.schema import STRICT, setting
from harness.engine.models import DTYPES, load_classifier
from harness.methods.base import Method, peft_modules_to_save
from harness.methods.lora_common import LoraSettings, lora_config

HEAD_MODULES = ["classifier", "score"]  # task heads stay unquantised

@dataclass(config=STRICT)
class QLoraSettings(LoraSettings):
    quant_type: Literal["nf4", "fp4"] = setting("nf4", help="the 4-bit data type of the frozen base weights (bitsandbytes)")
    double_quant: bool = setting(True, help="quantise the quantisation constants too (QLoRA's double quantisation)")
    compute_dtype: Literal["float32", "bfloat16", "float16"] = setting("float32", help="the dtype 4-bit weights are dequantised to "
                                                                                       "for each matmul (bfloat16 on GPUs that have it)")

def keep_training_layout(model) -> None:
    """bitsandbytes 0.50 on CPUs with AVX512-BF16 repacks a Linear4bit's weight for its inference kernel
    on the first eval-mode forward and never packs it back; the next training forward then takes the
    inference path and fails (``result += bias`` on a tensor autograd tracks). The validation curve
    evaluates mid-training, so keep the training layout: no repacking."""
    for module in model.modules():
        if hasattr(module, "support_avx512bf16_for_cpu"):
            module.support_avx512bf16_for_cpu = False


@METHODS.register("qlora")
class QLora(Method):
    Config = QLoraSettings

    def base_model(self, model_cfg, num_labels, cfg):
        quant = BitsAndBytesConfig(
            load_in_4bit=True,
            bnb_4bit_quant_type=cfg.quant_type,
            bnb_4bit_use_double_quant=cfg.double_quant,
            bnb_4bit_compute_dtype=DTYPES[cfg.compute_dtype],
            llm_int8_skip_modules=HEAD_MODULES,
        )
        return load_classifier(model_cfg.name, num_labels, model_cfg.dtype, quantization_config=quant)

    def prepare(self, model, cfg, *, total_steps):
        keep_training_layout(model)
        model = prepare_model_for_kbit_training(model, use_gradient_checkpointing=False)
        return get_peft_model(model, lora_config(cfg, TaskType.SEQ_CLS, peft_modules_to_save(model)))

    def load(self, base, out_dir, cfg):
        """Same 4-bit kernel as in training: the inference kernel's different rounding flips near-tie
        predictions between the trained and the reloaded model (seen in the method contract test)."""
        keep_training_layout(base)
        return super().load(base, out_dir, cfg)

    def report(self, model, cfg):
        return {"quantized_linear_layers": sum(1 for m in model.modules() if type(m).__name__ == "Linear4bit"),
                "weight_footprint_mb": model.get_memory_footprint() / 2**20 if hasattr(model, "get_memory_footprint") else None}

