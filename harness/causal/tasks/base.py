"""What a causal-LM task provides: its rows from each source, and how a row becomes a training text.

Rows are plain dicts written as JSONL (``data/causal``) that lm-eval's task YAMLs read back, so the
evaluation is the same whether the rows came from the built-in generator, a local file or the hub.
Every row has ``text`` (what the perplexity task scores); data-to-text rows also have ``mr`` (the
meaning representation), ``ref`` (one reference) and, in the test split, ``refs`` (all references).
"""

from __future__ import annotations

from pathlib import Path
from typing import Any, ClassVar, Literal

from harness.core.errors import HarnessError

Rows = list[dict[str, Any]]
SPLITS = ("train", "test")


class CausalTask:
    name: ClassVar[str]  # set by the registry when the class registers
    kind: ClassVar[Literal["data_to_text", "language_modeling"]]
    Generated: ClassVar[type]  # settings of the built-in generator (``causal.data.generated``)
    hub_default: ClassVar[tuple[str, str | None]]  # (path, name) of the hub dataset the paper used
    # revision of hub_default to read: the datasets library no longer runs loading scripts, so script
    # datasets are read from the hub's parquet conversion
    hub_revision: ClassVar[str | None] = None
    # lm-eval tasks (YAMLs in harness/causal/lm_eval_tasks) that evaluate this task's test split
    lm_eval_tasks: ClassVar[tuple[str, ...]]

    def generate(self, cfg: Any) -> dict[str, Rows]:
        """Deterministic train/test rows from the task's own generator (offline default)."""
        raise NotImplementedError

    def from_records(self, records: Rows, split: str, where: str) -> Rows:
        """Hub or local records (the dataset's own columns) -> this task's rows."""
        raise NotImplementedError

    def read_local(self, path: Path, split: str, where: str) -> Rows:
        import json

        if not path.is_file():
            raise HarnessError(f"{where}: {path}: file not found")
        if path.suffix == ".jsonl":
            records = []
            for i, line in enumerate(path.read_text(encoding="utf-8").splitlines()):
                if line.strip():
                    try:
                        records.append(json.loads(line))
                    except json.JSONDecodeError:
                        raise HarnessError(f"{where}: {path}: line {i + 1} is not JSON") from None
            return self.from_records(records, split, f"{where}: {path}")
        return self.read_other(path, split, where)

    def read_other(self, path: Path, split: str, where: str) -> Rows:
        raise HarnessError(f"{where}: {path}: unsupported file type {path.suffix!r}; allowed: .jsonl")

    def training_pair(self, row: dict[str, Any]) -> tuple[str, str]:
        """(context, completion): the loss is taken on the completion only (empty context: every token)."""
        raise NotImplementedError


def require(record: dict[str, Any], column: str, where: str) -> Any:
    value = record.get(column)
    if value is None or value == "":
        raise HarnessError(f"{where}: column {column!r} missing or empty; columns: {', '.join(sorted(record))}")
    return value
