"""``harness use-profile <file>``: validate a profile and make it the active params.yaml (atomically).

DVC reads parameters from params.yaml only, so a profile is switched by replacing that file; the
previous one stays in git history (``git checkout params.yaml`` returns to the smoke default).
"""

from __future__ import annotations

import sys
from pathlib import Path

from harness.commands.validate import load_validated
from harness.core.io import write_text


def main(argv: list[str]) -> None:
    if len(argv) != 1:
        sys.exit("usage: harness use-profile <experiments/profiles/NAME.yaml>")
    source = Path(argv[0])
    params = load_validated(source)
    write_text("params.yaml", source.read_text())
    print(f"params.yaml <- {source} (profile {params.profile}, runs {', '.join(params.train)})")
