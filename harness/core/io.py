"""Reading and writing the project's files. Writes leave either the complete new output or nothing: a failed or
interrupted stage never leaves a half-written file or directory that a later stage could mistake for a result."""

from __future__ import annotations

import contextlib
import json
import os
import shutil
import tempfile
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import yaml

from harness.core.ranks import is_main_process

# libyaml's parser where PyYAML was built with it (the wheels are): the same documents as yaml.safe_load, about ten
# times faster (the claims, profiles and params are read many times a run and hundreds of times a test run)
_YAML_LOADER = getattr(yaml, "CSafeLoader", yaml.SafeLoader)


@contextlib.contextmanager
def atomic_dir(path: str | Path) -> Iterator[Path]:
    """Yield a scratch directory beside ``path``; on success it replaces ``path``, on error it is removed.

    A killed process (SIGKILL, power loss) cannot remove its scratch directory: the next write of the same
    ``path`` does (one stage owns an output, and DVC runs one stage on a path at a time)."""
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    prefix = f".{path.name}.partial-"
    for stale in path.parent.glob(f"{prefix}*"):
        shutil.rmtree(stale, ignore_errors=True)
    tmp = Path(tempfile.mkdtemp(prefix=prefix, dir=path.parent))
    try:
        yield tmp
    except BaseException:
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    if path.exists():
        shutil.rmtree(path)
    os.replace(tmp, path)


@contextlib.contextmanager
def output_dir(path: str | Path) -> Iterator[Path]:
    """:func:`atomic_dir` in the process that writes the outputs; a discarded scratch directory in the other
    processes of a data-parallel launch (they train alongside it and write nothing)."""
    if is_main_process():
        with atomic_dir(path) as out:
            yield out
    else:
        with tempfile.TemporaryDirectory(prefix="rank-scratch-") as scratch:
            yield Path(scratch)


def write_text(path: str | Path, text: str) -> None:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", dir=path.parent)
    try:
        with os.fdopen(fd, "w") as f:
            f.write(text)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def write_json(path: str | Path, obj: Any) -> None:
    write_text(path, json.dumps(obj, indent=2, sort_keys=True, default=float) + "\n")


def load_yaml(text: str) -> Any:
    """``yaml.safe_load(text)``, through libyaml when it is there (errors are ``yaml.YAMLError`` either way)."""
    return yaml.load(text, Loader=_YAML_LOADER)  # a safe loader (CSafeLoader or SafeLoader)


def read_json(path: str | Path) -> Any:
    return json.loads(Path(path).read_text())
