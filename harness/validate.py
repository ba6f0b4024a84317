"""``harness validate [file]``: check a params file and every claim against the schema without running anything.

Claims are checked with their references (profiles, runs, paperscale entries and fields that exist), so a
typo in a claim fails here, naming the closest names, instead of reading "not run" in the table forever.
"""

from __future__ import annotations

from pathlib import Path

from harness.causal.settings import causal_of
from harness.claims.loading import load_claims
from harness.core.config import Params, load_params
from harness.core.paths import CLAIMS_DIR, PROFILES


def validated(params: Params) -> Params:
    """``params`` with every section checked, those too that only their own stages parse (the causal track's):
    what a command checks before it writes or runs anything."""
    causal_of(params)
    return params


def load_validated(path: str | Path = "params.yaml") -> Params:
    return validated(load_params(path))


def main(argv: list[str]) -> None:
    path = argv[0] if argv else "params.yaml"
    params = load_validated(path)
    if Path(path).resolve().parent == PROFILES.resolve():  # a profile: what run-profile lays out must run
        from harness.run_profile import check_runs_in_one_pipeline

        check_runs_in_one_pipeline(Path(path))
    print(f"{path}: valid (profile {params.profile}, runs {', '.join(params.train)}, seeds {params.seeds})")
    if CLAIMS_DIR.is_dir():  # in the repository (a scratch directory holding only a params file has none)
        claims = load_claims()
        print(f"{CLAIMS_DIR}: {len(claims)} claims valid; every profile, run, entry and field they name exists")
