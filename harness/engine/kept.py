"""What a rerun keeps: a tuning result, or a trained seed, computed from exactly what this run would compute it from.

DVC reruns a stage when anything it tracks changes, and a run's seed list is one of the things tune and train track
(``train.<run>.seeds``): a look of the seed plan (``harness seed-plan --apply``) adds seeds to a run, and without
this it would retune the run (which never reads its seeds) and retrain every seed it had. The work's key is
everything it is computed from but the seed list: the run's settings, the model, data and loop sections (and the
tuning section for tune), what the stage read before (the chosen learning rate and length for train), the prepared
data's hashes, the harness code (``code_digest``), the package versions and the machine (its CPU, GPU and cores).
A result is kept only where its key is this run's and it was written from a clean tree; a seed only where its saved
model is still the one it recorded (the model's digest): anything else trains again.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
from pathlib import Path
from typing import Any

from harness.core.config import Params
from harness.core.io import read_json
from harness.core.provenance import hardware, package_versions
from harness.core.workers import available_cores
from harness.engine.trainer import code_digest


def work_key(params: Params, run: str, **read: Any) -> str:
    """The key of ``run``'s work under ``params``; ``read``: what else it is computed from (a section, hashes)."""
    settings = {k: v for k, v in dataclasses.asdict(params.train[run]).items() if k != "seeds"}
    machine = hardware()
    key = {"run": run, "settings": settings, "model": dataclasses.asdict(params.model), "data": dataclasses.asdict(params.data),
           "loop": dataclasses.asdict(params.loop), "code": code_digest(), "packages": package_versions(),
           "machine": {"cpu": machine["cpu_model"], "gpu": machine["cuda"], "cores": available_cores()}, **read}
    return hashlib.sha256(json.dumps(key, sort_keys=True, default=str).encode()).hexdigest()


def kept_result(path: Path, key: str) -> dict | None:
    """The result at ``path`` if a clean tree wrote it under ``key``, else None."""
    if not path.is_file():
        return None
    result = read_json(path)
    return result if result.get("key") == key and result["provenance"]["git"].get("dirty") is False else None


def model_digest(folder: Path) -> str:
    """SHA-256 over a saved model's files (names and bytes, in name order)."""
    digest = hashlib.sha256()
    for file in sorted(p for p in folder.rglob("*") if p.is_file()):
        digest.update(file.relative_to(folder).as_posix().encode() + b"\0")
        digest.update(file.read_bytes())
    return digest.hexdigest()


def kept_seeds(result: dict | None, seeds: list[int], models: dict[int, Path]) -> dict[int, dict]:
    """The seeds of ``seeds`` that ``result`` (a :func:`kept_result`) holds and whose saved model (``models[seed]``) is
    the one it recorded: seed -> its recorded figures."""
    if result is None:
        return {}
    recorded = result["seeds"]
    return {seed: recorded[str(seed)] for seed in seeds
            if str(seed) in recorded and models[seed].is_dir() and model_digest(models[seed]) == recorded[str(seed)].get("model_sha256")}


def kept_from(previous: dict | None, kept: dict[int, dict]) -> dict[str, str] | None:
    """Seed -> the commit each kept seed was trained at (a seed kept before keeps its first commit); None: none kept."""
    if not kept:
        return None
    earlier = previous.get("kept_from") or {}
    return {str(seed): earlier.get(str(seed), previous["provenance"]["git"]["sha"]) for seed in sorted(kept)}
