"""Stage ``causal_data``: the causal track's task rows (built-in generator, local files or the hub) ->
``data/causal/{train,test}.jsonl`` (DVC cache), the files lm-eval's shipped tasks read, and
``results/causal/data.json`` (git: source, sizes, content hashes)."""

from __future__ import annotations

import hashlib
import json
import logging
import random
from pathlib import Path
from typing import Any

from harness.causal.settings import CausalConfig, causal_section
from harness.causal.tasks.base import SPLITS, CausalTask, Rows
from harness.core.config import Params, load_params
from harness.core.errors import HarnessError, first_line
from harness.core.io import atomic_dir, write_json
from harness.core.paths import CAUSAL_DATA, CAUSAL_DATA_SUMMARY
from harness.core.provenance import record
from harness.core.registry import CAUSAL_TASKS

log = logging.getLogger("harness.causal_data")
WHERE = "params.yaml: causal.data"


def load_rows(causal: CausalConfig, task: CausalTask) -> dict[str, Rows]:
    data = causal.data
    if data.source == "generated":
        return task.generate(causal.data.generated)
    if data.source == "local":
        return {split: task.read_local(Path(getattr(data.local, split)), split, f"{WHERE}.local.{split}") for split in SPLITS}
    import datasets

    path, name = (data.hub.path, data.hub.name) if data.hub.path else task.hub_default
    revision = None if data.hub.path else task.hub_revision
    rows = {}
    for split, hub_split in (("train", data.hub.train_split), ("test", data.hub.test_split)):
        try:
            records = list(datasets.load_dataset(path, name, split=hub_split, revision=revision))
        except Exception as err:  # offline, unknown dataset or split: one line naming the key
            raise HarnessError(f"{WHERE}.hub: cannot load {path!r} ({name}) split {hub_split!r} (needs network): {first_line(err)}") from None
        rows[split] = task.from_records(records, split, f"{WHERE}.hub {path} {hub_split}")
    return rows


def subset(rows: Rows, n: int, seed: int) -> Rows:
    """A seeded subset of ``n`` rows (0 or more than there are: all), in the original order."""
    if not 0 < n < len(rows):
        return rows
    keep = sorted(random.Random(seed).sample(range(len(rows)), n))
    return [rows[i] for i in keep]


def jsonl(rows: Rows) -> str:
    return "".join(json.dumps(r, ensure_ascii=False, sort_keys=True) + "\n" for r in rows)


def run(params: Params) -> dict[str, Any]:
    causal = causal_section(params)
    task = CAUSAL_TASKS.get(causal.task)()
    rows = load_rows(causal, task)
    sizes = {"train": causal.data.train_size, "test": causal.data.test_size}
    rows = {split: subset(rows[split], sizes[split], causal.data.subset_seed) for split in SPLITS}
    for split in SPLITS:
        if not rows[split]:
            raise HarnessError(f"{WHERE}: the {split} split of source {causal.data.source!r} is empty")
    texts = {split: jsonl(r) for split, r in rows.items()}
    hashes = {split: hashlib.sha256(t.encode()).hexdigest() for split, t in texts.items()}
    with atomic_dir(CAUSAL_DATA) as out:
        for split, text in texts.items():
            (out / f"{split}.jsonl").write_text(text, encoding="utf-8")
    summary = {
        "task": causal.task,
        "kind": task.kind,
        "source": causal.data.source,
        "sizes": {split: len(r) for split, r in rows.items()},
        "content_sha256": hashes,
        "provenance": record(data_hashes=hashes),
    }
    write_json(CAUSAL_DATA_SUMMARY, summary)
    log.info("causal data: task %s from %s, %s rows", causal.task, causal.data.source, summary["sizes"])
    return summary


def main(argv: list[str]) -> None:
    run(load_params())
