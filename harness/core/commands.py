"""What ``harness <command>`` runs: the command table and how one command runs in a process (a fresh one, or
the preload server's fork). Shared by the CLI entry point and the preload server, so neither imports the other."""

from __future__ import annotations

import importlib
import logging
import os
import sys
import warnings

from harness.core.errors import HarnessError

COMMANDS = {
    "prepare": "harness.stages.prepare",
    "tune": "harness.stages.tune",
    "train": "harness.stages.train",
    "evaluate": "harness.stages.evaluate",
    "truncate": "harness.stages.truncate",
    "planted": "harness.stages.planted",
    "tabulate": "harness.stages.tabulate",
    "paperscale": "harness.stages.paperscale",
    "atlas": "harness.stages.atlas",
    "causal-data": "harness.stages.causal_data",
    "causal-base": "harness.stages.causal_base",
    "causal-train": "harness.stages.causal_train",
    "causal-evaluate": "harness.stages.causal_evaluate",
    "causal-align": "harness.stages.causal_align",
    "causal-knowledge": "harness.stages.causal_knowledge",
    "causal-rag": "harness.stages.causal_rag",
    "recommend": "harness.recommend",
    "check": "harness.check",
    "current": "harness.current",
    "deps": "harness.deps",
    "validate": "harness.validate",
    "use-profile": "harness.use_profile",
    "run-profile": "harness.run_profile",
    "glue-profiles": "harness.glue_profiles",
    "preload": "harness.preload",
}


# The libraries' own switches, read when they are imported: commands that never import them (check,
# current, validate) then do not pay seconds to import them only to silence them.
QUIET_LIBRARIES = {"TRANSFORMERS_VERBOSITY": "error", "HF_HUB_DISABLE_PROGRESS_BARS": "1", "HF_DATASETS_DISABLE_PROGRESS_BARS": "1"}


def configure_logging() -> None:
    """One line per stage event; library chatter (load reports, per-shard bars) only when it is an error."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("transformers", "datasets", "peft", "httpx", "bitsandbytes", "lm_eval", "lm-eval"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    for name, value in QUIET_LIBRARIES.items():
        os.environ.setdefault(name, value)
    if "datasets" in sys.modules:  # imported before: tell it directly
        sys.modules["datasets"].disable_progress_bars()
    if "transformers" in sys.modules:
        sys.modules["transformers"].logging.set_verbosity_error()
        sys.modules["transformers"].logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices, not our results


def run(argv: list[str]) -> int:
    """Run one command in this process (a fresh one, or the preload server's fork)."""
    from harness.core.workers import mark_pristine

    configure_logging()
    mark_pristine()  # no torch kernel has run in this process yet: stages may fork their seeds from it
    try:
        importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0
