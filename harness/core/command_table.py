"""What ``harness <command>`` runs: the command table and how one command runs in a process (a fresh one, or
the preload server's fork). Shared by the CLI entry point and the preload server, so neither imports the other."""

from __future__ import annotations

import difflib
import importlib
import logging
import os
import pkgutil
import sys
import warnings

from harness.core.errors import HarnessError

STAGES = "harness.stages"
NOT_A_STAGE = ("common",)  # helpers the stage modules share
# Commands that are not pipeline stages: the tools around the pipeline.
TOOLS = {
    "recommend": "harness.costs.recommend",
    "check": "harness.claims.gate",
    "current": "harness.commands.current",
    "deps": "harness.commands.deps",
    "validate": "harness.commands.validate",
    "use-profile": "harness.commands.use_profile",
    "run-profile": "harness.commands.run_profile",
    "glue-profiles": "harness.commands.glue_profiles",
    "preload": "harness.commands.preload",
    "seed-plan": "harness.commands.seed_plan",
}


def stage_commands() -> dict[str, str]:
    """Every module of ``harness/stages`` is the command of its name (``causal_train.py``: ``harness causal-train``),
    so a new stage is its module and its entry in a dvc.yaml; nothing here changes."""
    package = importlib.import_module(STAGES)  # its __init__ imports nothing
    return {m.name.replace("_", "-"): f"{STAGES}.{m.name}" for m in pkgutil.iter_modules(package.__path__) if m.name not in NOT_A_STAGE}


COMMANDS = {**stage_commands(), **TOOLS}


def unknown(name: str) -> str:
    """The one-line error for a command that does not exist, with the closest known ones."""
    near = difflib.get_close_matches(name, COMMANDS, n=3, cutoff=0.5)
    return f"unknown command {name!r}; {'closest: ' + ', '.join(near) + '; ' if near else ''}commands: {', '.join(sorted(COMMANDS))}"


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
    except SystemExit as stop:
        if isinstance(stop.code, str):  # ``sys.exit("usage: ...")``: a usage error, exit status 2 like every other
            print(f"error: {stop.code}", file=sys.stderr)
            return 2
        raise
    return 0
