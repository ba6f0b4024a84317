"""Analytic training-memory model: weights, gradients, optimizer states (activations excluded).

Assumptions, stated because the papers' own figures depend on them:
* weights stored in 16-bit (2 bytes), or 4-bit NF4 plus quantization constants for QLoRA;
* gradients only for trainable parameters, 16-bit (2 bytes);
* AdamW keeps two fp32 moments per trainable parameter (8 bytes); no fp32 master copy;
* activations depend on batch and sequence length and are not part of these paper-scale claims.

The quantization-constant arithmetic is QLoRA's (Dettmers et al. §3): one fp32 absmax per block of
64 weights costs 32/64 = 0.5 bits per parameter; double quantization stores those absmax values in
8 bits with one fp32 constant per 256 of them: 8/64 + 32/(64*256) bits per parameter.
"""

from __future__ import annotations

WEIGHT_BYTES_16 = 2
GRAD_BYTES = 2
ADAM_BYTES = 8
NF4_BITS = 4
BLOCK = 64
DQ_BLOCK = 256


def quant_constant_bits(double_quant: bool) -> float:
    if not double_quant:
        return 32 / BLOCK
    return 8 / BLOCK + 32 / (BLOCK * DQ_BLOCK)


def training_bytes(total_params: int, trainable_params: int, base_bits: float = 16.0) -> dict[str, float]:
    """Bytes for weights (frozen base at ``base_bits`` per parameter, trainable ones in 16-bit),
    gradients and Adam moments of the trainable parameters."""
    frozen = total_params - trainable_params
    weights = frozen * base_bits / 8 + trainable_params * WEIGHT_BYTES_16
    grads = trainable_params * GRAD_BYTES
    optimizer = trainable_params * ADAM_BYTES
    return {"weights": weights, "grads": grads, "optimizer": optimizer, "total": weights + grads + optimizer}
