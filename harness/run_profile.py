"""``harness run-profile <name> [stage ...]``: run a profile's pipeline beside the default and keep its results in
``results/profiles/<name>/``, where ``tabulate`` judges every claim that names the profile.

Why a git worktree and not a DVC experiment: a profile replaces params.yaml as a whole (``harness use-profile``),
while ``dvc exp run`` sets keys on top of it and leaves one experiment's results in the workspace at a time
(``dvc exp apply`` overwrites the last). The results of several profiles must coexist, committed, for one status
table to judge each claim against the profile it names. So the profile runs in its own checkout of HEAD
(``.profiles/<name>``, ignored by git) whose params.yaml is the profile file byte for byte: the same dvc.yaml,
the same DVC cache (shared), and provenance that records a clean tree with ``params_from`` naming the profile file
(harness/core/provenance.py). The default's params.yaml is never touched.

Rerunning resumes: a checkout at the same commit is reused, so stages that finished are not run again; a new
commit starts afresh. The results are copied back only after ``dvc repro`` succeeds, into a temporary folder
renamed over the old one, so an interrupted run leaves the committed results as they were.
"""

from __future__ import annotations

import json
import re
import shutil
import subprocess
import time
from datetime import datetime, timezone
from pathlib import Path

from harness.core.config import load_params
from harness.core.errors import HarnessError
from harness.core.paths import PROFILE_PARAMS, PROFILE_RESULTS, PROFILE_RUN, PROFILES, RESULTS
from harness.core.provenance import git_state, hardware

WORKTREES = Path(".profiles")
# results/ entries that are the pipeline's inputs, not a profile's outputs: never copied back
RESULT_INPUTS = ("reference", PROFILE_RESULTS.name)


def main(argv: list[str]) -> None:
    if not argv or argv[0].startswith("-"):
        raise HarnessError("usage: harness run-profile <profile name> [dvc stage ...] (stages default to the whole pipeline)")
    name, targets = argv[0], argv[1:]
    started = time.monotonic()
    run_profile(name, targets)
    print(f"{PROFILE_RESULTS / name}: profile {name} ran in {time.monotonic() - started:.0f} s")


def run_profile(name: str, targets: list[str], root: Path = Path(".")) -> Path:
    source = root / PROFILES / f"{name}.yaml"
    if not source.is_file():
        known = ", ".join(sorted(p.stem for p in (root / PROFILES).glob("*.yaml")))
        raise HarnessError(f"harness run-profile: no profile {name!r} ({PROFILES}/{name}.yaml); profiles: {known}")
    params = load_params(source)
    if params.profile != name:
        raise HarnessError(f"{source}: profile: {params.profile!r}; the file of profile {name!r} must name it")
    state = git_state(root)
    if state["dirty"] is not False:
        raise HarnessError("harness run-profile: commit first (git status shows tracked changes): a profile's results "
                           "record the commit they ran at, and a checkout of it is what runs")
    work = checkout(root, name, state["sha"])
    (work / "params.yaml").write_text(source.read_text())
    begun = datetime.now(timezone.utc)
    t0 = time.monotonic()
    proc = subprocess.run(["harness", "preload", "--", "dvc", "repro", *targets], cwd=work)
    if proc.returncode != 0:
        raise HarnessError(f"harness run-profile {name}: dvc repro failed in {work} (exit {proc.returncode}); "
                           f"fix and rerun the same command, which resumes there")
    run = {"profile": name, "params_from": str(PROFILES / f"{name}.yaml"), "git": git_state(work),
           "command": " ".join(["harness", "run-profile", name, *targets]), "stages": targets or ["(all)"],
           "started": begun.isoformat(timespec="seconds"), "wall_seconds": round(time.monotonic() - t0, 1),
           "hardware": hardware()}
    return harvest(work, root / PROFILE_RESULTS / name, run)


def checkout(root: Path, name: str, sha: str) -> Path:
    """``.profiles/<name>`` at ``sha``: reused when it is already there (a resumed run), else made afresh with the
    pipeline's outputs cleared from its results/ (what it copies back is then this profile's only)."""
    work = root / WORKTREES / name
    if work.is_dir() and git(work, "rev-parse", "HEAD") == sha:
        return work
    if work.exists():
        git(root, "worktree", "remove", "--force", str(work))
    git(root, "worktree", "add", "--detach", str(work), sha)
    cache = subprocess.run(["dvc", "cache", "dir"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
    subprocess.run(["dvc", "config", "--local", "cache.dir", str(Path(cache).resolve())], cwd=work, check=True)
    link_siblings(root, work)
    for entry in (work / RESULTS).iterdir():
        if entry.name not in RESULT_INPUTS:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()
    return work


def link_siblings(root: Path, work: Path) -> None:
    """Paths the profile names relative to the repository (``../shared/data/glue/...``) resolve the same from the
    checkout: each ``../<name>`` it uses gets a link beside the checkout to the repository's sibling."""
    text = (root / PROFILES / f"{work.name}.yaml").read_text()
    for sibling in sorted(set(re.findall(r"\.\./([^/\s'\"]+)", text))):
        target, link = (root.resolve().parent / sibling), work.parent / sibling
        if target.exists() and not link.exists():
            link.symlink_to(target)


def harvest(work: Path, dest: Path, run: dict) -> Path:
    """Copy the checkout's results (all but the inputs) with the params and the run record into ``dest``, whole or
    not at all."""
    tmp = dest.with_name(f".{dest.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    for entry in (work / RESULTS).iterdir():
        if entry.name not in RESULT_INPUTS:
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, tmp / entry.name)
    shutil.copy2(work / "params.yaml", tmp / PROFILE_PARAMS)
    (tmp / PROFILE_RUN).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    shutil.rmtree(dest, ignore_errors=True)
    tmp.rename(dest)
    return dest


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HarnessError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()
