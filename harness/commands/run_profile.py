"""``harness run-profile <name> [stage ...]``: run a profile's pipeline beside the default and keep its results in
``results/profiles/<name>/``, where ``tabulate`` judges every claim that names the profile.

Why a git worktree and not a DVC experiment: a profile replaces params.yaml as a whole (``harness use-profile``),
while ``dvc exp run`` sets keys on top of it and leaves one experiment's results in the workspace at a time
(``dvc exp apply`` overwrites the last). The results of several profiles must coexist, committed, for one status
table to judge each claim against the profile it names. So the profile runs in its own checkout of HEAD
(``.profiles/<name>``, ignored by git) whose params.yaml is the profile file byte for byte: the same dvc.yaml,
the same DVC cache (shared), and provenance that records a clean tree with ``params_from`` naming the profile file
(harness/core/provenance.py). The default's params.yaml is never touched.

Rerunning resumes: the checkout is kept, moved to the new HEAD with the profile's results and dvc.lock, so only
stages that did not finish or whose inputs the new commit changed run again; the run record lists every
invocation and sums their wall time. (Stages DVC restores from its run cache cost nothing there: delete
``.dvc/cache/runs`` to time a profile from scratch.) The results are copied back only after ``dvc repro``
succeeds, into a temporary folder that replaces the old one by two renames, so an interrupted run leaves the
committed results as they were.
"""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import datetime, timezone
from pathlib import Path

import yaml

from harness.commands.validate import check_runs_in_one_pipeline, load_validated
from harness.core.config import read_yaml, split_params, study_files
from harness.core.errors import HarnessError
from harness.core.paths import PARAMS, PROFILE_PARAMS, PROFILE_RESULTS, PROFILE_RUN, PROFILES, RESULTS, STUDIES
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
    params = load_validated(source)
    if params.profile != name:
        raise HarnessError(f"{source}: profile: {params.profile!r}; the file of profile {name!r} must name it")
    check_runs_in_one_pipeline(source, root)
    state = git_state(root)
    if state["dirty"] is not False:
        raise HarnessError("harness run-profile: commit first (git status shows tracked changes): a profile's results "
                           "record the commit they ran at, and a checkout of it is what runs")
    resumed = (root / WORKTREES / name).is_dir()  # else a fresh checkout: every result is this invocation's
    work = checkout(root, name, state["sha"])
    lay_out(work, source)
    begun = datetime.now(timezone.utc)
    t0 = time.monotonic()
    # the checkout's own code runs, not the installed one (an editable install points at the main tree, which may
    # change while the profile runs): the results then come from the commit their provenance names
    env = {**os.environ, "PYTHONPATH": os.pathsep.join(filter(None, [str(work.resolve()), os.environ.get("PYTHONPATH")]))}
    every = targets or ["--all-pipelines"]  # the default's pipeline and each study the profile holds
    proc = subprocess.run([sys.executable, "-m", "harness.core.cli", "preload", "--", "dvc", "repro", *every], cwd=work, env=env)
    if proc.returncode != 0:
        raise HarnessError(f"harness run-profile {name}: dvc repro failed in {work} (exit {proc.returncode}); "
                           f"fix and rerun the same command, which resumes there")
    invocation = {"command": " ".join(["harness", "run-profile", name, *targets]), "stages": targets or ["(all)"],
                  "started": begun.isoformat(timespec="seconds"), "wall_seconds": round(time.monotonic() - t0, 1),
                  "provenance": {"git": git_state(work), "hardware": hardware()}}
    dest = root / PROFILE_RESULTS / name
    return harvest(work, dest, run_record(dest / PROFILE_RUN, name, invocation, resumed))


def lay_out(work: Path, source: Path) -> None:
    """The profile as the checkout's params: params.yaml is the profile file byte for byte (so the stages' config is
    the profile's whole), and each study's params.yaml holds the profile's part of that study (what its dvc.yaml
    iterates and tracks); a study the profile holds nothing of loses its dvc.yaml there, so no stage of it exists.
    Provenance recognises exactly this layout as committed input (harness/core/provenance.py)."""
    # the committed layout first (a resumed checkout is laid out already); the studies' locks are the profile's own
    git(work, "checkout", "--quiet", "--", str(PARAMS), f":(glob){STUDIES}/*/params.yaml", f":(glob){STUDIES}/*/dvc.yaml")
    base = read_yaml(work / PARAMS)
    _, studies = split_params(read_yaml(source), base, study_files(work))
    (work / PARAMS).write_text(source.read_text())
    for study, part in studies.items():
        (work / STUDIES / study / "params.yaml").write_text(yaml.safe_dump(part or {}, sort_keys=False))
        if part is None:
            (work / STUDIES / study / "dvc.yaml").unlink(missing_ok=True)


def run_record(path: Path, name: str, invocation: dict, resumed: bool) -> dict:
    """The run record: every invocation that built these results (a resumed run adds one), their total wall time
    (the profile's cost on that machine), and the last one's provenance at the top. A run in a fresh checkout (none
    kept from before, e.g. on a new machine) built every result itself: the committed record's invocations are not
    part of its cost, and the record starts anew."""
    earlier = json.loads(path.read_text())["invocations"] if resumed and path.is_file() else []
    invocations = [*earlier, invocation]
    return {"profile": name, "command": invocation["command"], "invocations": invocations,
            "wall_seconds": round(sum(i["wall_seconds"] for i in invocations), 1), "provenance": invocation["provenance"]}


def checkout(root: Path, name: str, sha: str) -> Path:
    """``.profiles/<name>`` at ``sha``, holding this profile's outputs only. Made afresh the first time (the
    default's committed results cleared from it); after that moved to ``sha`` keeping the profile's own results and
    dvc.lock, so ``dvc repro`` reruns just the stages whose code, params or data the new commit changed - the
    resumed run costs what the change costs."""
    work = root / WORKTREES / name
    if not work.is_dir():
        git(root, "worktree", "prune")
        git(root, "worktree", "add", "--detach", str(work), sha)
        cache = subprocess.run(["dvc", "cache", "dir"], cwd=root, capture_output=True, text=True, check=True).stdout.strip()
        subprocess.run(["dvc", "config", "--local", "cache.dir", str(Path(cache).resolve())], cwd=work, check=True)
        link_siblings(root, work)
        clear_outputs(work)
    elif git(work, "rev-parse", "HEAD") != sha:
        with tempfile.TemporaryDirectory() as tmp:
            locks = [p.relative_to(work) for p in [work / "dvc.lock", *sorted((work / STUDIES).glob("*/dvc.lock"))]]
            kept = Path(tmp) / RESULTS.name
            for lock in locks:  # every pipeline's lock: the profile's record of what it ran
                (Path(tmp) / "locks" / lock).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(work / lock, Path(tmp) / "locks" / lock)
            kept.mkdir()
            copy_outputs(work / RESULTS, kept)
            git(work, "checkout", "--quiet", "--force", "--detach", sha)
            clear_outputs(work)
            for lock in locks:
                (work / lock).parent.mkdir(parents=True, exist_ok=True)
                shutil.copy2(Path(tmp) / "locks" / lock, work / lock)
            copy_outputs(kept, work / RESULTS)
    return work


def copy_outputs(results: Path, dest: Path) -> None:
    """Copy a results folder's entries into ``dest``, all but the pipeline's inputs (RESULT_INPUTS)."""
    for entry in results.iterdir():
        if entry.name not in RESULT_INPUTS:
            (shutil.copytree if entry.is_dir() else shutil.copy2)(entry, dest / entry.name)


def clear_outputs(work: Path) -> None:
    for entry in (work / RESULTS).iterdir():
        if entry.name not in RESULT_INPUTS:
            shutil.rmtree(entry) if entry.is_dir() else entry.unlink()


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
    try:
        copy_outputs(work / RESULTS, tmp)
        shutil.copy2(work / "params.yaml", tmp / PROFILE_PARAMS)
        (tmp / PROFILE_RUN).write_text(json.dumps(run, indent=2, sort_keys=True) + "\n")
    except BaseException:  # a half-written copy is never left to be mistaken for results
        shutil.rmtree(tmp, ignore_errors=True)
        raise
    old = dest.with_name(f".{dest.name}.old")
    shutil.rmtree(old, ignore_errors=True)
    if dest.exists():
        dest.rename(old)  # two renames: at every moment either the old results or the new ones are complete
    tmp.rename(dest)
    shutil.rmtree(old, ignore_errors=True)
    return dest


def git(cwd: Path, *args: str) -> str:
    proc = subprocess.run(["git", *args], cwd=cwd, capture_output=True, text=True)
    if proc.returncode != 0:
        raise HarnessError(f"git {' '.join(args)}: {proc.stderr.strip()}")
    return proc.stdout.strip()
