"""``harness validate [file]``: check a params file against the schema without running anything."""

from __future__ import annotations

from harness.config import load_params


def main(argv: list[str]) -> None:
    path = argv[0] if argv else "params.yaml"
    params = load_params(path)
    print(f"{path}: valid (profile {params.profile}, runs {', '.join(params.train)}, seeds {params.seeds})")
