"""Analytic training-memory model: weights, gradients, optimizer states (:func:`training_bytes`) and the
activations autograd keeps for the backward pass (:func:`activation_bytes`).

Assumptions, stated because the papers' own figures depend on them:
* weights stored in 16-bit (2 bytes), or 4-bit NF4 plus quantization constants for QLoRA;
* gradients only for trainable parameters, in the weights' precision (16-bit, 2 bytes);
* AdamW keeps two fp32 moments per trainable parameter (8 bytes); no fp32 master copy;
* activations depend on batch and sequence length: the paper-scale claims (weights, storage) leave them
  out, ``harness recommend`` adds them for the batch and sequence length it is asked about.

The quantization-constant arithmetic is QLoRA's (Dettmers et al. §3): one fp32 absmax per block of
64 weights costs 32/64 = 0.5 bits per parameter; double quantization stores those absmax values in
8 bits with one fp32 constant per 256 of them: 8/64 + 32/(64*256) bits per parameter.
"""

from __future__ import annotations

WEIGHT_BYTES_16 = 2
ADAM_BYTES = 8
NF4_BITS = 4
BLOCK = 64
DQ_BLOCK = 256


def quant_constant_bits(double_quant: bool) -> float:
    if not double_quant:
        return 32 / BLOCK
    return 8 / BLOCK + 32 / (BLOCK * DQ_BLOCK)


def training_bytes(total_params: int, trainable_params: int, base_bits: float = 16.0, bytes_per_value: int = WEIGHT_BYTES_16) -> dict[str, float]:
    """Bytes for weights (frozen base at ``base_bits`` per parameter, trainable ones at ``bytes_per_value``:
    16-bit by default), gradients (``bytes_per_value``) and Adam moments of the trainable parameters."""
    frozen = total_params - trainable_params
    weights = frozen * base_bits / 8 + trainable_params * bytes_per_value
    grads = trainable_params * bytes_per_value
    optimizer = trainable_params * ADAM_BYTES
    return {"weights": weights, "grads": grads, "optimizer": optimizer, "total": weights + grads + optimizer}


def activation_bytes(config, *, batch: int, seq_len: int, bytes_per_value: int, checkpointing: bool = False) -> dict[str, float]:
    """Activations of one training step of a transformer stack (``config``: a transformers config).

    Per layer, Korthikanti et al. 2022 ("Reducing Activation Recomputation in Large Transformer Models",
    §4.1) count ``sbh(34 + 5as/h)`` bytes in 16-bit with 1-byte dropout masks and a 4h MLP; written for
    ``p`` bytes a value and intermediate size ``I``: attention ``sbh(5p + 1) + as^2 b(2p + 1)`` (inputs of
    the projections, Q, K, V, softmax output, its dropout mask and output), MLP ``sbh(p + 1) + 2sbIp``,
    two layer norms ``2sbhp``; the embeddings keep ``sbh(p + 1)`` and the head keeps the stack's output
    ``sbhp`` (a classifier's pooler reads one token of it, and the view keeps the whole tensor). With
    gradient checkpointing (one checkpoint per layer, as transformers places them) only each layer's input
    is kept, and one layer's activations are rebuilt at a time during the backward pass (``recompute``).

    Measured against what autograd saved on MiniLM in fp32 (tests/test_memory.py): full fine-tuning saves up
    to ~20% more than this count, LoRA about as much (its adapters' inputs replace the frozen layers' ones).
    """
    hidden, layers, heads = config.hidden_size, config.num_hidden_layers, config.num_attention_heads
    intermediate = getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * hidden
    p, sbh = bytes_per_value, seq_len * batch * hidden
    layer = sbh * (8 * p + 2) + 2 * seq_len * batch * intermediate * p + heads * seq_len**2 * batch * (2 * p + 1)
    embeddings, head = sbh * (p + 1), sbh * p
    if checkpointing:
        saved, recompute = embeddings + layers * sbh * p + head, layer
    else:
        saved, recompute = embeddings + layers * layer + head, 0
    return {"saved": saved, "recompute": recompute, "total": saved + recompute}


def activation_probe(params, run: str, *, checkpointing: bool, batch: int, seq_len: int):
    """What the activation count is checked on (tests/test_memory.py, benchmarks/memory_model.py): run ``run``'s
    model as its training starts (seeded; gradient checkpointing on request), its transformer (whose config the
    count reads), and a batch of random tokens."""
    import torch

    from harness.core.registry import METHODS

    method, cfg = METHODS.get(params.train[run].method)(), params.train[run]
    torch.manual_seed(0)
    model = method.prepare(method.base_model(params.model, 2, cfg), cfg, total_steps=4).train()
    base = model.get_base_model() if hasattr(model, "get_base_model") else model  # under a peft wrapper or not
    if checkpointing:
        base.gradient_checkpointing_enable(gradient_checkpointing_kwargs={"use_reentrant": False})
    inputs = {"input_ids": torch.randint(1000, 2000, (batch, seq_len)), "attention_mask": torch.ones(batch, seq_len, dtype=torch.long),
              "labels": torch.zeros(batch, dtype=torch.long)}
    return model, base, inputs


def saved_for_backward(model, inputs) -> int:
    """Bytes of the tensors autograd saves during one forward pass (each storage once, parameters excluded):
    the activations, measured exactly."""
    import torch

    storages: dict[int, int] = {}

    def pack(tensor):
        storage = tensor.untyped_storage()
        storages[storage.data_ptr()] = storage.nbytes()
        return tensor

    with torch.autograd.graph.saved_tensors_hooks(pack, lambda tensor: tensor):
        model(**inputs)
    weights = {p.untyped_storage().data_ptr() for p in model.parameters()}
    return sum(size for ptr, size in storages.items() if ptr not in weights)


def training_step(model, inputs, optimizer) -> None:
    model(**inputs).loss.backward()
    optimizer.step()
    optimizer.zero_grad(set_to_none=True)


def step_peak_bytes(model, optimizer, inputs) -> dict[str, int]:
    """Peak tensor memory of one training step of ``model`` (whose optimizer has stepped once, so its states
    exist), by kind: ``Parameter``, ``Buffer``, ``Gradient``, ``Optstate``, ``Activation``, ``Temp`` (the
    backward pass's gradients of activations and the optimizer's scratch) and ``Total``, each storage counted
    once by torch's MemTracker. That is what the model above predicts, the CPU counterpart of CUDA's max
    allocated: a process's RSS adds the allocator's slack on top (benchmarks/memory_model.py prints both).
    MemTracker is in ``torch.distributed._tools``, torch's own but not public API."""
    import types

    from torch.distributed._tools.mem_tracker import MemTracker

    tracker = MemTracker()
    # MemTracker hooks the gradient of every parameter it meets, which a frozen one (a PEFT base) refuses:
    # mark those as hooked already, with handles that remove nothing
    nothing = types.SimpleNamespace(remove=lambda: None)
    for param in model.parameters():
        if not param.requires_grad:
            tracker._param_to_grad_hook_handles[param] = (nothing, nothing)
    tracker.track_external(model, optimizer)
    with tracker:
        training_step(model, inputs, optimizer)
    (peak,) = tracker.get_tracker_snapshot("peak").values()
    return {getattr(kind, "value", kind): size for kind, size in peak.items()}
