"""Where this process sits in a data-parallel launch (``accelerate launch``, torchrun): read from the
environment those launchers set, so every module that writes outputs can ask without importing the seed
scheduler (:mod:`harness.core.workers`)."""

from __future__ import annotations

import os


def world_size() -> int:
    """Processes training one model together: ``accelerate launch`` and torchrun set WORLD_SIZE (1 otherwise)."""
    return int(os.environ.get("WORLD_SIZE", "1"))


def is_main_process() -> bool:
    """Rank 0 of a data-parallel launch, or the only process: the one that writes a stage's outputs."""
    return int(os.environ.get("RANK", "0")) == 0
