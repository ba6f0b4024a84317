"""``harness glue-profiles [--check]``: the GLUE paper profiles and their claims, written from the tables as data.

AdaLoRA Table 1 (8 tasks x 2 budgets) and LoRA Table 2 (RoBERTa-base, 8 tasks) are 24 runnable profiles that
differ only in a task's columns and a table row's hyperparameters, and ~40 claims that differ only in a printed
number. ``experiments/glue_tables.yaml`` holds those numbers once (a test checks them against the reference
tables); this module renders every profile and the claims file from it, the way lm-eval generates its per-task
YAMLs, so no profile is a hand-edited copy of another. A profile is a complete params file: the studies and the
causal track come from ``params.yaml`` (their smoke settings; no SFT/DPO, RAG or knowledge arms: not these papers'
settings), so the generated files change when those sections do, and ``--check`` (a test) says so.
"""

from __future__ import annotations

import copy
import sys
import typing
from pathlib import Path
from typing import Any

import yaml
from pydantic import Field
from pydantic.dataclasses import dataclass

from harness.core.config import read_yaml, with_studies
from harness.core.errors import HarnessError
from harness.core.io import load_yaml, write_text
from harness.core.paths import CLAIMS_DIR, EXPERIMENTS, PARAMS, PROFILES
from harness.core.schema import STRICT, PositiveInt, validate

SPEC = EXPERIMENTS / "glue_tables.yaml"
CLAIMS_FILE = CLAIMS_DIR / "glue_tables.yaml"
HUB = "nyu-mll/glue"
WRITTEN_BY = "Written by `harness glue-profiles` from experiments/glue_tables.yaml: edit there, then rerun it."
METRIC_WORDS = {"accuracy": "accuracy", "f1": "F1", "matthews": "Matthews correlation", "pearson": "Pearson correlation",
                "mean_correlation": "mean of Pearson and Spearman correlations"}


@dataclass(config=STRICT)
class GlueTask:
    columns: typing.Annotated[list[str], Field(min_length=1, max_length=2)]  # text, and the pair's second text
    labels: list[int] = Field(default_factory=lambda: [0, 1])
    eval_split: str = "validation"
    regression: bool = False


@dataclass(config=STRICT)
class Budget:
    suffix: str
    lora_r: PositiveInt
    init_r: PositiveInt
    target_r: PositiveInt
    adalora_row: str
    lora_row: str


@dataclass(config=STRICT)
class AdaLoraColumn:
    task: str
    column: str
    metric: str
    values: dict[str, tuple[float, float]]  # budget -> (AdaLoRA, LoRA) as printed


@dataclass(config=STRICT)
class AdaLoraTable:
    paper: str
    arxiv: str
    table: str
    model: str
    max_length: PositiveInt
    seeds: list[int]
    target_modules: list[str]
    alpha: PositiveInt
    dropout: float
    betas: tuple[float, float]
    budgets: dict[str, Budget]
    hyperparameters: dict[str, tuple[float, PositiveInt, PositiveInt, float, PositiveInt, PositiveInt, PositiveInt]]
    columns: list[AdaLoraColumn]
    min_margin: float


@dataclass(config=STRICT)
class LoraColumn:
    task: str
    column: str
    metric: str
    value: float
    spread: float


@dataclass(config=STRICT)
class LoraTable:
    paper: str
    arxiv: str
    table: str
    row: str
    model: str
    max_length: PositiveInt
    seeds: list[int]
    r: PositiveInt
    alpha: PositiveInt
    dropout: float
    target_modules: list[str]
    warmup_ratio: float
    hyperparameters: dict[str, tuple[float, PositiveInt, PositiveInt]]
    columns: list[LoraColumn]
    from_mnli: list[str]


@dataclass(config=STRICT)
class GlueTables:
    tasks: dict[str, GlueTask]
    adalora: AdaLoraTable
    lora: LoraTable

    def __post_init__(self) -> None:
        for name, table in (("adalora", self.adalora), ("lora", self.lora)):
            named = {*table.hyperparameters, *(c.task for c in table.columns)}
            if unknown := sorted(named - set(self.tasks)):
                raise ValueError(f"{name}: task {unknown[0]!r} is not under tasks; tasks: {', '.join(self.tasks)}")
            if missing := sorted({c.task for c in table.columns} - set(table.hyperparameters)):
                raise ValueError(f"{name}.hyperparameters: no row for {missing[0]!r}")


def load_tables(path: Path = SPEC) -> GlueTables:
    raw = load_yaml(path.read_text())
    for column in raw.get("adalora", {}).get("columns", []):  # budgets are the column's own keys in the file
        column["values"] = {b: column.pop(b) for b in list(column) if b in raw["adalora"].get("budgets", {})}
    return validate(GlueTables, raw, str(path))


def adalora_profile(tables: GlueTables, task: str, budget: str) -> str:
    return f"paper-adalora-debertav3-base-{task}{tables.adalora.budgets[budget].suffix}"


def lora_profile(task: str) -> str:
    return f"paper-lora-roberta-base-{task}"


def _data(tables: GlueTables, task: str, metrics: list[str]) -> dict[str, Any]:
    spec = tables.tasks[task]
    hub = {"path": HUB, "name": task, "train_split": "train", "eval_split": spec.eval_split, "text_column": spec.columns[0]}
    if len(spec.columns) > 1:
        hub["text_pair_column"] = spec.columns[1]
    # a regression task reads no labels; the key stays, as every stage that lists data.labels needs it present.
    # The papers' code trains on the raw scores.
    kind = {"task": "regression", "standardize_targets": False} if spec.regression else {}
    return {"source": "hub", **kind, "labels": spec.labels, "metrics": metrics, "hub": hub}


def _loop(lr: float, batch: int, epochs: int, warmup_ratio: float) -> dict[str, Any]:
    return {"latency_batch": 32, "latency_repeats": 20, "threads": 0, "epochs": epochs, "batch_size": batch,
            "eval_batch_size": 128, "lr": lr, "warmup_ratio": warmup_ratio, "scheduler": "linear", "weight_decay": 0.0,
            "max_grad_norm": 1.0, "device": "auto"}


def _studies(default: dict[str, Any], runs: list[str]) -> dict[str, Any]:
    """The sections every profile carries beside its paper's runs: no budget sweep, truncation of its own runs,
    and the planted benchmark and causal track at the default's settings (a profile is a complete params file)."""
    causal = copy.deepcopy(default["causal"])
    causal["align"]["runs"] = {}
    causal["rag"] = {"models": []}
    causal["knowledge"]["arms"] = {}
    return {"sweep": {}, "truncate": {"runs": runs}, "planted": copy.deepcopy(default["planted"]), "causal": causal}


def _metrics(columns: list[Any], task: str) -> list[str]:
    return list(dict.fromkeys(c.metric for c in columns if c.task == task))


def lora_run(b: Budget) -> str:
    """The LoRA run of a budget: ``lora_rank<r>`` (not ``lora_r2``, the sweep study's run: a profile's runs run in the
    default pipeline, and one named like a study's would be defined by both; run-profile refuses it)."""
    return f"lora_rank{b.lora_r}"


def _adalora_params(tables: GlueTables, task: str, budget: str, default: dict[str, Any]) -> dict[str, Any]:
    t = tables.adalora
    b = t.budgets[budget]
    lr, batch, epochs, gamma, tinit, delta_t, tfinal = t.hyperparameters[task]
    lora = lora_run(b)
    shared = {"alpha": t.alpha, "dropout": t.dropout, "target_modules": t.target_modules}
    return {
        "profile": adalora_profile(tables, task, budget),
        "seeds": t.seeds,
        "model": {"name": t.model, "max_length": t.max_length, "dtype": "float32"},
        "data": _data(tables, task, _metrics(t.columns, task)),
        "loop": _loop(lr, batch, epochs, 0.0),
        "tuning": {"seed": 0, "factors": [1.0]},  # the paper's own lr, untuned: its setting is what is reproduced
        "methods": {"lora": shared, "adalora": {**shared, "tinit": tinit, "tfinal": tfinal, "deltaT": delta_t, "beta1": t.betas[0],
                                                "beta2": t.betas[1], "orth_reg_weight": gamma}},
        "train": {
            lora: {"method": "lora", "r": b.lora_r},
            "adalora": {"method": "adalora", "init_r": b.init_r, "target_r": b.target_r},
        },
        **_studies(default, [lora, "adalora"]),
    }


def _lora_params(tables: GlueTables, task: str, default: dict[str, Any]) -> dict[str, Any]:
    t = tables.lora
    lr, batch, epochs = t.hyperparameters[task]
    return {
        "profile": lora_profile(task),
        "seeds": t.seeds,
        "model": {"name": t.model, "max_length": t.max_length, "dtype": "float32"},
        "data": _data(tables, task, _metrics(t.columns, task)),
        "loop": _loop(lr, batch, epochs, t.warmup_ratio),
        "tuning": {"seed": 0, "factors": [1.0]},
        "methods": {"lora": {"r": t.r, "alpha": t.alpha, "dropout": t.dropout, "target_modules": t.target_modules}},
        "train": {"lora": {"method": "lora"}},
        **_studies(default, ["lora"]),
    }


class _Dumper(yaml.SafeDumper):
    """Block mappings, one-line lists of scalars (as the hand-written params files), no anchors for shared lists."""

    def ignore_aliases(self, data: Any) -> bool:
        return True


_Dumper.add_representer(list, lambda dumper, data: dumper.represent_sequence(
    "tag:yaml.org,2002:seq", data, flow_style=not any(isinstance(x, (dict, list)) for x in data)))


def _dump(header: list[str], body: Any) -> str:
    lines = "".join(f"# {line}\n" for line in header)
    return lines + yaml.dump(body, Dumper=_Dumper, sort_keys=False, default_flow_style=False, width=120, allow_unicode=True)


def render_profiles(tables: GlueTables, default: dict[str, Any]) -> dict[str, str]:
    """Profile file name -> its text, for every task and budget of both tables."""
    out = {}
    a, lo = tables.adalora, tables.lora
    for task in a.hyperparameters:
        for budget, b in a.budgets.items():
            lr, batch, epochs, *_ = a.hyperparameters[task]
            header = [f"Paper profile: {a.paper} ({a.arxiv}) {a.table}, DeBERTaV3-base on GLUE {task} at the {budget.upper()} budget",
                      f"({b.adalora_row} against {b.lora_row}); Table 8's {task} row: lr {lr:g}, batch {batch}, {epochs} epochs.",
                      "Needs a network (hub model and dataset) and a GPU. Run: harness run-profile <this file's name>",
                      WRITTEN_BY]
            out[f"{adalora_profile(tables, task, budget)}.yaml"] = _dump(header, _adalora_params(tables, task, budget, default))
    for task in lo.hyperparameters:
        lr, batch, epochs = lo.hyperparameters[task]
        header = [f"Paper profile: {lo.paper} ({lo.arxiv}) {lo.table}, {lo.row} on GLUE {task}; Table 9: lr {lr:g}, batch {batch}, {epochs} epochs.",
                  *(["Deviation: the paper starts this task's run from its best MNLI LoRA checkpoint (§D.1); this one starts from the",
                     "pretrained model."] if task in lo.from_mnli else []),
                  "Needs a network (hub model and dataset) and a GPU. Run: harness run-profile <this file's name>",
                  WRITTEN_BY]
        out[f"{lora_profile(task)}.yaml"] = _dump(header, _lora_params(tables, task, default))
    return out


def _column_id(columns: list[Any], column: Any) -> str:
    """``sst2``; a task's second printed column adds its metric (``qqp-f1``)."""
    first = next(c for c in columns if c.task == column.task)
    return column.task if column is first else f"{column.task}-{column.metric.replace('_', '-')}"


def render_claims(tables: GlueTables) -> str:
    a, lo = tables.adalora, tables.lora
    spreads = {c.task: c.spread for c in lo.columns}
    claims = []
    for col in a.columns:
        cid = _column_id(a.columns, col)
        for budget, b in a.budgets.items():
            ours, lora = col.values[budget]
            profile = adalora_profile(tables, col.task, budget)
            source = {"paper": a.paper, "arxiv": a.arxiv, "table": a.table}
            margin = max(a.min_margin, spreads.get(col.task, 0.0))
            judge = {"kind": "equivalence", "margin": margin, "better": "higher",
                     "reason": f"{a.table} prints a mean of {len(a.seeds)} seeds without its spread; {margin:g} is the larger of {a.min_margin:g} "
                               f"and the +- LoRA's Table 2 prints for {col.task} (RoBERTa-base, a model of this size)"}
            for suffix, component, row, run, value, label in (
                    (f"lora-{budget}", "lora", b.lora_row, lora_run(b), lora, f"{b.lora_row} on all weight matrices of DeBERTaV3-base"),
                    (budget, "adalora", b.adalora_row, "adalora", ours, b.adalora_row.replace("AdaLoRA ", "AdaLoRA (") + ") on DeBERTaV3-base")):
                claims.append({
                    "id": f"adalora.t1.{cid}-{suffix}", "kind": "measurement", "component": component,
                    "statement": f"{label} reaches {value:.2f} {col.column} dev {METRIC_WORDS[col.metric]}",
                    "source": {**source, "row": row, "column": col.column}, "scale": "paper", "published": f"{value:.2f}",
                    "requires": ["gpu", "network"],
                    "measure": {"kind": "run", "profile": profile, "run": run, "field": f"metrics.{col.metric}"},
                    "judge": judge,
                })
            if ours > lora:  # the relation the paper printed; where AdaLoRA printed lower, the paper claims no win
                claims.append({
                    "id": f"adalora.t1.{cid}-beats-lora-{budget}", "kind": "measurement", "component": "adalora",
                    "statement": f"At {budget.upper()} parameters AdaLoRA beats {b.lora_row} on {col.column} ({ours:.2f} vs {lora:.2f})",
                    "source": {**source, "row": f"{b.adalora_row} vs {b.lora_row}", "column": col.column}, "scale": "paper",
                    "requires": ["gpu", "network"],
                    "measure": {"kind": "pair", "a": {"kind": "run", "profile": profile, "run": "adalora", "field": f"metrics.{col.metric}"},
                                "b": {"kind": "run", "profile": profile, "run": lora_run(b), "field": f"metrics.{col.metric}"}},
                    "judge": {"kind": "bound", "of": "difference", "at_least": 0},
                })
    for col in lo.columns:
        note = f"The paper prints {col.value:g} +- {col.spread:g} (median of {len(lo.seeds)} seeds); delta is its own spread."
        if col.task in lo.from_mnli:
            note += " The paper starts this run from its best MNLI LoRA checkpoint (§D.1); the profile starts from the pretrained model."
        claims.append({
            "id": f"lora.t2.roberta-base.{_column_id(lo.columns, col)}", "kind": "measurement", "component": "lora",
            "statement": f"LoRA (0.3M) on RoBERTa-base reaches {col.value:g} {col.column} dev {METRIC_WORDS[col.metric]}",
            "source": {"paper": lo.paper, "arxiv": lo.arxiv, "table": lo.table, "row": lo.row, "column": col.column}, "scale": "paper",
            "published": f"{col.value:g}", "requires": ["gpu", "network"],
            "measure": {"kind": "run", "profile": lora_profile(col.task), "run": "lora", "field": f"metrics.{col.metric}"},
            "judge": {"kind": "equivalence", "spread": col.spread, "better": "higher"},
            "note": note,
        })
    header = ["AdaLoRA Table 1 and LoRA Table 2 on GLUE, one claim per printed cell of the rows reproduced, and AdaLoRA's",
              "win over LoRA where the table prints one. " + WRITTEN_BY]
    return _dump(header, claims)


def rendered() -> dict[Path, str]:
    """Every file this command owns -> the text it should hold."""
    tables = load_tables()
    default = with_studies(read_yaml(PARAMS), PARAMS)  # the default's settings with its studies' (the causal track)
    default.pop("studies", None)
    files = {PROFILES / name: text for name, text in render_profiles(tables, default).items()}
    files[CLAIMS_FILE] = render_claims(tables)
    return files


def stale() -> list[Path]:
    return [path for path, text in rendered().items() if not path.is_file() or path.read_text() != text]


def main(argv: list[str]) -> None:
    if argv not in ([], ["--check"]):
        sys.exit("usage: harness glue-profiles [--check]")
    if argv == ["--check"]:
        if behind := stale():
            raise HarnessError(f"{', '.join(str(p) for p in behind)}: not what experiments/glue_tables.yaml gives; run: harness glue-profiles")
        return
    files = rendered()
    for path, text in files.items():
        write_text(path, text)
    print(f"{len(files)} files written from {SPEC}")
