"""``harness validate [file]``: check a params file and every claim against the schema without running anything.

Claims are checked with their references (profiles, runs, paperscale entries and fields that exist), so a
typo in a claim fails here, naming the closest names, instead of reading "not run" in the table forever.
"""

from __future__ import annotations

from pathlib import Path

from harness.causal.settings import causal_of
from harness.claims.loading import load_claims
from harness.core.config import Params, load_params, read_yaml, split_params, study_files
from harness.core.errors import HarnessError
from harness.core.paths import CLAIMS_DIR, PARAMS, PROFILES, STUDIES


def validated(params: Params) -> Params:
    """``params`` with every section checked, those too that only their own stages parse (the causal track's):
    what a command checks before it writes or runs anything."""
    causal_of(params)
    return params


def load_validated(path: str | Path = "params.yaml") -> Params:
    return validated(load_params(path))


def check_runs_in_one_pipeline(source: Path, root: Path = Path(".")) -> None:
    """Refuse a profile a run of which is named like a study's run. The checkout's params.yaml is the profile, so the
    default pipeline defines every run of its ``train``, while run-profile's ``lay_out`` also hands a run of a study's name to
    that study's params, whose pipeline would then define the same stage outputs (``dvc repro`` stops before anything
    runs). A profile's runs are the default pipeline's: one line naming the key, the study and what to do."""
    raw = read_yaml(source)
    _, studies = split_params(raw, read_yaml(root / PARAMS), study_files(root))
    for study, part in studies.items():
        for run in (part or {}).get("train", {}):
            raise HarnessError(f"{source}: train.{run}: the {study} study's run name ({STUDIES}/{study}/params.yaml); a profile's runs "
                               f"run in the default pipeline, where the study's would define the same stages: name it otherwise")


def main(argv: list[str]) -> None:
    path = argv[0] if argv else "params.yaml"
    params = load_validated(path)
    if Path(path).resolve().parent == PROFILES.resolve():  # a profile: what run-profile lays out must run
        check_runs_in_one_pipeline(Path(path))
    print(f"{path}: valid (profile {params.profile}, runs {', '.join(params.train)}, seeds {params.seeds})")
    if CLAIMS_DIR.is_dir():  # in the repository (a scratch directory holding only a params file has none)
        claims = load_claims()
        print(f"{CLAIMS_DIR}: {len(claims)} claims valid; every profile, run, entry and field they name exists")
