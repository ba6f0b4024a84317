"""Record in dvc.lock a code or params change already shown not to change any stage's outputs, for stages whose
outputs are not on this machine (a fresh work tree has no DVC cache and the project has no remote).

What `dvc commit -f` does, with DVC's allow_missing (a missing output keeps the hash dvc.lock holds) and without
the run cache (which would hash the missing outputs). It is honest only after a check on this machine that the
old and the new code produce the same results (rerun a chain of stages with each and compare; see the notes of
stop 26): it records, it does not verify. Usage, from the repo root with a clean tree:

    python tools/record_neutral_change.py [stage to leave out ...]   # then: harness current; git diff dvc.lock
"""

import sys

from dvc.repo import Repo

from harness.current import stale_stages


def main(skip: set[str]) -> None:
    stale = [s for s in stale_stages() if s not in skip]
    print(f"recording {len(stale)} stages: {', '.join(stale)}")
    with Repo(".") as repo, repo.lock:
        for target in stale:
            for info in repo.stage.collect_granular(target):
                stage = info.stage
                stage.save(allow_missing=True, run_cache=False)
                stage.commit(allow_missing=True, relink=True)
                stage.dvcfile.dump_stages([stage], update_pipeline=False)


if __name__ == "__main__":
    main(set(sys.argv[1:]))
