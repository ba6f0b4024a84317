"""``harness <stage> [args]``: the entry point dvc.yaml calls. Errors become one line and exit status 2."""

from __future__ import annotations

import importlib
import logging
import sys
import warnings

from harness.errors import HarnessError

COMMANDS = {
    "prepare": "harness.stages.prepare",
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
    "recommend": "harness.recommend",
    "check": "harness.check",
    "validate": "harness.validate",
    "use-profile": "harness.use_profile",
}


def configure_logging() -> None:
    """One line per stage event; library chatter (load reports, per-shard bars) only when it is an error."""
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("transformers", "datasets", "peft", "httpx", "bitsandbytes", "lm_eval", "lm-eval"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import datasets
    import transformers

    datasets.disable_progress_bars()
    transformers.logging.set_verbosity_error()
    transformers.logging.disable_progress_bar()
    warnings.filterwarnings("ignore", category=FutureWarning)  # library deprecation notices, not our results


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: harness {{{','.join(COMMANDS)}}} [args]", file=sys.stderr)
        return 2
    configure_logging()
    try:
        importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
