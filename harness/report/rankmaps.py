"""Rank maps: AdaLoRA's final rank per layer x module as numbers (JSON) and a heatmap (PNG)."""

from __future__ import annotations

import re
from pathlib import Path
from typing import Any

import numpy as np

from harness.core.io import write_json

LAYER = re.compile(r"\.(\d+)\.")


def grid(rank_pattern: dict[str, int]) -> tuple[list[int], list[str], np.ndarray]:
    """Layers x modules matrix from module paths such as ``bert.encoder.layer.3.attention.self.query``."""
    cells: dict[tuple[int, str], int] = {}
    for path, rank in rank_pattern.items():
        m = LAYER.search(path)
        layer = int(m.group(1)) if m else -1
        cells[(layer, path.rsplit(".", 1)[-1])] = rank
    layers = sorted({k[0] for k in cells})
    modules = sorted({k[1] for k in cells})
    matrix = np.full((len(modules), len(layers)), np.nan)
    for (layer, module), rank in cells.items():
        matrix[modules.index(module), layers.index(layer)] = rank
    return layers, modules, matrix


def write_rank_map(run: str, per_seed: dict[str, dict[str, int]], init_r: int, json_dir: Path, png_dir: Path,
                   provenance: dict[str, Any]) -> dict[str, Any]:
    """Mean rank over seeds per cell, plus every seed's matrix and the caller's provenance; returns the JSON written."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    grids = {seed: grid(pattern) for seed, pattern in per_seed.items()}
    layers, modules, _ = next(iter(grids.values()))
    mean = np.mean([g[2] for g in grids.values()], axis=0)
    data = {
        "run": run,
        "init_r": init_r,
        "layers": layers,
        "modules": modules,
        "mean_rank": mean.tolist(),
        "per_seed": {seed: g[2].tolist() for seed, g in grids.items()},
        "provenance": provenance,
    }
    write_json(json_dir / f"{run}.json", data)
    fig, ax = plt.subplots(figsize=(1.0 + 0.6 * len(layers), 1.2 + 0.5 * len(modules)))
    image = ax.imshow(mean, vmin=0, vmax=init_r, cmap="viridis", aspect="auto")
    for i in range(len(modules)):
        for j in range(len(layers)):
            ax.text(j, i, f"{mean[i, j]:.1f}", ha="center", va="center", color="white" if mean[i, j] < init_r / 2 else "black", fontsize=8)
    ax.set_xticks(range(len(layers)), [str(layer) for layer in layers])
    ax.set_yticks(range(len(modules)), modules)
    ax.set_xlabel("layer")
    ax.set_title(f"{run}: final AdaLoRA rank (mean of {len(grids)} seeds, init {init_r})", fontsize=9)
    fig.colorbar(image, ax=ax, label="rank")
    fig.tight_layout()
    png_dir.mkdir(parents=True, exist_ok=True)
    fig.savefig(png_dir / f"{run}.png", dpi=100)
    plt.close(fig)
    return data
