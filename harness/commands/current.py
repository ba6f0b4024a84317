"""``harness current``: are the committed results what the committed code, params and data produce? The check
CI runs instead of rerunning the pipeline, asked of the default pipeline and of every study apart.

Three questions, each answered without running a stage (seconds, where ``dvc repro`` takes half an hour):

- **Stale**: every stage whose recorded dependencies (code, params, data, upstream results) differ from its
  pipeline's ``dvc.lock``, or whose committed outputs were edited after it ran (``dvc repro --dry
  --allow-missing``'s test). The DVC cache (tokenised data, trained models) may be absent, as on a fresh clone: a
  missing cached file is not a change, a changed dependency is. A stale **default** fails; a stale **study**
  does not, but ``results/status.md`` must mark every claim judged on it (harness/stages/tabulate.py), and it is
  named here with the commit its results came from and what changed since.
- **Marks**: the study freshness that status.json recorded is the one found now (else rerun tabulate).
- **Dirty**: a result file whose provenance says it was written from a working tree that differed from its
  commit cannot be traced to any commit.
"""

from __future__ import annotations

import dataclasses
import json
import os
from pathlib import Path
from typing import Any

from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.core.paths import RESULTS, STATUS, STUDIES

DEFAULT = "default"


@dataclasses.dataclass(frozen=True)
class Freshness:
    """One pipeline's state: the stages ``dvc repro`` would rerun, what changed for them, and the commit its
    results were written at (their provenance)."""

    pipeline: str  # "default" or a study's name
    stale: tuple[str, ...]
    changed: tuple[str, ...]  # "harness/methods/lora.py modified", "params: studies/x/params.yaml train.a modified"
    since: str | None  # the commit of the results now committed (short sha), None if none has run
    outputs: tuple[str, ...] = ()  # what its stages write, relative to the repository root

    def mark(self) -> str:
        """The words status.md puts on a claim judged on this pipeline's results."""
        what = "; ".join(self.changed[:3]) + (f" and {len(self.changed) - 3} more" if len(self.changed) > 3 else "")
        return f"stale since {self.since or 'never run'}: {what or 'its stages changed'}"

    def as_dict(self) -> dict[str, Any]:
        return {"stale": list(self.stale), "changed": list(self.changed), "since": self.since}


def pipeline_of(dvcfile: str) -> str:
    """``dvc.yaml`` -> default; ``studies/<name>/dvc.yaml`` -> the study's name."""
    parts = Path(dvcfile).parts
    return parts[1] if len(parts) == 3 and parts[0] == STUDIES.name else DEFAULT


def _flatten(status: Any, prefix: str = "") -> list[str]:
    """DVC's nested stage status as lines: ``{"changed deps": {"a.py": "modified"}}`` -> ``a.py modified``."""
    if isinstance(status, str):
        return [f"{prefix}{status}".strip()]
    if isinstance(status, list):
        return [line for item in status for line in _flatten(item, prefix)]
    lines = []
    for key, value in status.items():
        if key in ("changed deps", "changed outs"):
            lines += _flatten(value, "")
        elif isinstance(value, str):
            lines.append(f"{prefix}{key} {value}".strip())
        else:
            lines += _flatten(value, f"{prefix}{key}: ")
    return lines


def _since(stage: Any) -> str | None:
    for out in stage.outs:
        path = Path(out.fs_path)
        if path.suffix == ".json" and path.is_file():
            try:
                sha = json.loads(path.read_text()).get("provenance", {}).get("git", {}).get("sha")
            except (json.JSONDecodeError, AttributeError):
                continue
            if sha:
                return sha[:7]
    return None


def freshness(root: str | Path = ".") -> dict[str, Freshness]:
    """Every pipeline's freshness, the default first, then the studies by name: what ``dvc repro --dry
    --allow-missing`` decides stage by stage, asked of each stage directly (a dry run stops at the first stage
    downstream of a change whose cached input is absent)."""
    from dvc.env import DVC_STAGE
    from dvc.lock import LockNoop
    from dvc.repo import Repo
    from dvc.repo.reproduce import plan_repro

    root = Path(root)
    found: dict[str, dict[str, Any]] = {}
    running = os.environ.get(DVC_STAGE)  # asked from a stage dvc is running (tabulate): dvc holds the repo's lock
    with Repo(str(root)) as repo:
        if running:
            repo.lock = LockNoop()
        with repo.lock:
            for stage in plan_repro(repo.index.graph):
                name = pipeline_of(str(Path(stage.dvcfile.path).resolve().relative_to(root.resolve())))
                entry = found.setdefault(name, {"stale": [], "changed": [], "since": None, "outputs": []})
                entry["since"] = entry["since"] or _since(stage)
                entry["outputs"] += [os.path.relpath(out.fs_path, root) for out in stage.outs]
                # the running stage is changed by definition, and dvc holds its outputs' locks
                if stage.addressing == running or stage.changed(allow_missing=True):
                    entry["stale"].append(stage.addressing)
                    for line in [] if stage.addressing == running else _flatten(stage.status()):
                        # a cached output absent on a fresh clone is no change (allow_missing)
                        if not line.endswith(("deleted", "not in cache")) and line not in entry["changed"]:
                            entry["changed"].append(line)
    order = sorted(found, key=lambda n: (n != DEFAULT, n))
    return {n: Freshness(n, tuple(found[n]["stale"]), tuple(found[n]["changed"]), found[n]["since"], tuple(found[n]["outputs"]))
            for n in order}


def dirty_results(results: Path = RESULTS) -> list[str]:
    """Result files whose provenance records a dirty working tree, anywhere under ``results``."""
    dirty = []
    for path in sorted(results.rglob("*.json")):
        try:
            git = json.loads(path.read_text()).get("provenance", {}).get("git", {})
        except (json.JSONDecodeError, AttributeError):
            continue
        if isinstance(git, dict) and git.get("dirty"):  # (the headline names its commit alone)
            dirty.append(str(path))
    return dirty


def recorded_marks(status: Path = STATUS) -> dict[str, Any] | None:
    """The stale studies status.json was tabulated with (None when it records none: an older table)."""
    return read_json(status).get("stale_studies") if status.is_file() else None


def _some(names: list[str] | tuple[str, ...], most: int) -> str:
    return ", ".join(names[:most]) + (f" and {len(names) - most} more" if len(names) > most else "")


def main(argv: list[str]) -> None:
    if argv:
        raise HarnessError("usage: harness current (no arguments)")
    pipelines = freshness()
    default = pipelines.get(DEFAULT, Freshness(DEFAULT, (), (), None))
    if default.stale:
        raise HarnessError(
            f"results are stale for the committed code, params or data: dvc would rerun {_some(default.stale, 12)}; "
            "run `dvc repro` and commit what it writes"
        )
    studies = {n: f for n, f in pipelines.items() if n != DEFAULT and f.stale}
    recorded = recorded_marks()
    # the studies and the commits of their results; what changed is read where tabulate ran, whose DVC cache may hold
    # outputs a fresh clone lacks (a missing cached file is no change), so its lines may differ here
    if recorded is not None and {n: r["since"] for n, r in recorded.items()} != {n: f.since for n, f in studies.items()}:
        raise HarnessError(f"{STATUS}: its stale-study marks ({', '.join(recorded) or 'none'}) are not the ones found now "
                           f"({', '.join(studies) or 'none'}); run `dvc repro -f tabulate` and commit what it writes")
    dirty = dirty_results()
    if dirty:
        raise HarnessError(f"results written from a dirty working tree: {_some(dirty, 5)}; commit the code, then `dvc repro -f` the stages that wrote them")
    print("current: the default pipeline is up to date with dvc.lock and every result records a clean tree")
    for name, study in pipelines.items():
        if name == DEFAULT:
            continue
        if study.stale:
            print(f"study {name}: {study.mark()} ({len(study.stale)} stages; `make study STUDY={name}` reruns it); "
                  "status.md marks its claims stale")
        else:
            print(f"study {name}: current (results of {study.since})")
