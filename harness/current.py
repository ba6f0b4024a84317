"""``harness current``: fail when the committed results are not what the committed code, params and data
produce — the check CI runs instead of rerunning the pipeline.

Two questions, both answered without running a stage (seconds, where ``dvc repro`` takes an hour):

- **Stale**: every stage whose recorded dependencies (code, params, data, upstream results) differ from
  ``dvc.lock``, or whose committed outputs were edited after it ran (``dvc repro --dry --allow-missing``'s
  test). The DVC cache (tokenised data, trained models) may be absent, as on a fresh clone: a missing
  cached file is not a change, a changed dependency is.
- **Dirty**: a result file whose provenance says it was written from a working tree that differed from
  its commit cannot be traced to any commit.
"""

from __future__ import annotations

import json
from pathlib import Path

from harness.core.errors import HarnessError
from harness.core.paths import RESULTS


def stale_stages(root: str | Path = ".") -> list[str]:
    """Stages whose recorded dependencies or outputs changed, by their dvc.yaml names (``train@lora``), in
    pipeline order: what ``dvc repro --dry --allow-missing`` decides stage by stage, asked of each stage
    directly (a dry run stops at the first stage downstream of a change whose cached input is absent)."""
    from dvc.repo import Repo
    from dvc.repo.reproduce import plan_repro

    with Repo(str(root)) as repo, repo.lock:
        return [stage.addressing for stage in plan_repro(repo.index.graph) if stage.changed(allow_missing=True)]


def dirty_results(results: Path = RESULTS) -> list[str]:
    """Result files whose provenance records a dirty working tree."""
    dirty = []
    for path in sorted(results.rglob("*.json")):
        try:
            git = json.loads(path.read_text()).get("provenance", {}).get("git", {})
        except (json.JSONDecodeError, AttributeError):
            continue
        if git.get("dirty"):
            dirty.append(str(path))
    return dirty


def _some(names: list[str], most: int) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def main(argv: list[str]) -> None:
    if argv:
        raise HarnessError("usage: harness current (no arguments)")
    stale = stale_stages()
    if stale:
        raise HarnessError(
            f"results are stale for the committed code, params or data: dvc would rerun {_some(stale, 12)}; "
            "run `dvc repro` and commit what it writes"
        )
    dirty = dirty_results()
    if dirty:
        raise HarnessError(f"results written from a dirty working tree: {_some(dirty, 5)}; commit the code, then `dvc repro -f` the stages that wrote them")
    print("current: every stage is up to date with dvc.lock and every result records a clean tree")
