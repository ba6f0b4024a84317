"""Low-rank updates of a trained adapter: read them out, truncate them (per module or under a global budget)."""

from __future__ import annotations

import torch

from harness.core.errors import HarnessError


def adapter_deltas(model) -> dict[str, torch.Tensor]:
    """dW of every adapted module, keyed by its path in the merged (adapter-free) model."""
    deltas = {}
    for name, module in model.named_modules():
        if hasattr(module, "get_delta_weight") and "default" in getattr(module, "active_adapters", []):
            deltas[name.removeprefix("base_model.model.")] = module.get_delta_weight("default").detach()
    if not deltas:
        raise HarnessError("truncate: the model has no low-rank adapter modules (methods: lora, loraplus, adalora)")
    return deltas


def truncated(delta: torch.Tensor, k: int) -> torch.Tensor:
    """Best rank-k approximation in Frobenius norm (Eckart-Young)."""
    U, S, Vh = torch.linalg.svd(delta.double(), full_matrices=False)
    return ((U[:, :k] * S[:k]) @ Vh[:k]).to(delta.dtype)


def ranks_of(deltas: dict[str, torch.Tensor]) -> int:
    """Largest numerical rank, at the tolerance of the dtype dW was computed in (float32 products carry
    rounding noise far above float64's tolerance, which would report full rank)."""
    return max(int(torch.linalg.matrix_rank(d)) for d in deltas.values())


def global_budget_ranks(deltas: dict[str, torch.Tensor], budget: int) -> dict[str, int]:
    """Rank per module when only the ``budget`` largest singular values across all modules are kept:
    the best split of a total rank budget, read off the trained update itself."""
    values = [(float(s), name) for name, d in deltas.items() for s in torch.linalg.svdvals(d.double())]
    kept = sorted(values, reverse=True)[:budget]
    return {name: sum(1 for _, n in kept if n == name) for name in deltas}

