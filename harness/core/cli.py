"""``harness <stage> [args]``: the entry point dvc.yaml calls. Errors become one line and exit status 2.

Under ``harness preload -- <command>`` a call is handed to the preload server (harness/commands/preload.py), so this
module imports nothing heavy before it knows whether it runs the stage itself.
"""

from __future__ import annotations

import sys

from harness.core.command_table import COMMANDS, run, unknown


def main(argv: list[str] | None = None) -> int:
    argv = sys.argv[1:] if argv is None else argv
    if not argv:
        print(f"usage: harness {{{','.join(sorted(COMMANDS))}}} [args]", file=sys.stderr)
        return 2
    if argv[0] not in COMMANDS:
        print(f"error: {unknown(argv[0])}", file=sys.stderr)
        return 2
    if argv[0] != "preload":
        from harness.commands.preload import delegate

        code = delegate(argv)
        if code is not None:
            return code
    return run(argv)


if __name__ == "__main__":
    sys.exit(main())
