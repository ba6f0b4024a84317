"""``harness <stage> [args]``: the entry point dvc.yaml calls. Errors become one line and exit status 2."""

from __future__ import annotations

import importlib
import logging
import sys

from harness.errors import HarnessError

COMMANDS = {
    "prepare": "harness.stages.prepare",
    "train": "harness.stages.train",
    "evaluate": "harness.stages.evaluate",
    "tabulate": "harness.stages.tabulate",
    "paperscale": "harness.stages.paperscale",
    "check": "harness.check",
    "validate": "harness.validate",
    "use-profile": "harness.use_profile",
}


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv or argv[0] not in COMMANDS:
        print(f"usage: harness {{{','.join(COMMANDS)}}} [args]", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.INFO, format="%(asctime)s %(name)s: %(message)s", datefmt="%H:%M:%S")
    for noisy in ("transformers", "datasets", "peft", "httpx", "bitsandbytes"):
        logging.getLogger(noisy).setLevel(logging.ERROR)
    import datasets

    datasets.disable_progress_bars()  # per-shard save/map bars drown the stage log lines
    try:
        importlib.import_module(COMMANDS[argv[0]]).main(argv[1:])
    except HarnessError as err:
        print(f"error: {err}", file=sys.stderr)
        return 2
    return 0


if __name__ == "__main__":
    sys.exit(main())
