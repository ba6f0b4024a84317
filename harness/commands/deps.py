"""``harness deps [--write]``: every stage's code dependencies in dvc.yaml, derived from the import graph.

A stage depends on the modules its process runs for it: its stage module, everything that imports at any depth
(a lazy import inside a function counts), the ``__init__`` of every package on the way, and the registry members it
looks up (``harness.core.registry``: a lookup imports the one member module of that name). Not on the dispatch code
that picks the process (``cli``, ``commands``, ``preload``), and not on the members the config loader looks up only
to validate params.yaml or to list the known names in an error (that can refuse a params file or stop a stage,
never change what a stage writes).

Which members a stage looks up is read from the code where the name is written there (``METHODS.get("full")``) and
from the params where it comes from a run (``RULES``: LoRA's train stage depends on ``harness/methods/lora.py``, not
on its siblings, through ``harness/methods/${item.method}.py``); a registry a stage lists with ``names()``, or looks up
by a name no rule resolves, makes the whole package its dependency. Non-code deps (data, results, experiments) are
written by hand and kept as they are.

``harness deps`` prints every stage whose dvc.yaml code deps differ from the graph and exits 2; ``--write``
rewrites them (every dvc.yaml: the default's and each study's). tests/test_architecture.py runs the check.
"""

from __future__ import annotations

import ast
import dataclasses
import os
import sys
from collections.abc import Callable
from functools import cache
from pathlib import Path
from typing import Any

from harness.causal.settings import causal_of
from harness.core.config import Params, load_params
from harness.core.errors import HarnessError
from harness.core.io import load_yaml
from harness.core.paths import PAPERSCALE_SPEC, PARAMS, RESULTS, STUDIES

ROOT = Path(__file__).resolve().parents[2]
PACKAGE = ROOT / "harness"
# Dispatch: which process runs a stage, never what it computes.
DISPATCH = {"harness.core.cli", "harness.core.command_table", "harness.commands.preload"}
# Modules whose registry lookups only validate params (see the module docstring).
VALIDATION_ONLY = {"harness.core.config"}
# Read at run time by lm-eval (task YAMLs and the functions they name), never imported by the harness: kept as written.
RUNTIME_READ = {"harness/causal/lm_eval_tasks"}
ALL = "*"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


@cache
def module_files() -> dict[str, Path]:
    return {module_name(p): p for p in sorted(PACKAGE.rglob("*.py"))}


def _resolve(name: str) -> str | None:
    files = module_files()
    while name and name not in files:
        name = name.rpartition(".")[0]
    return name or None


@cache
def import_graph() -> dict[str, frozenset[str]]:
    """Module -> the harness modules it imports, at any depth of its code. Importing a submodule is not counted
    as importing its package here (as pylint's cyclic-import does not); ``closure`` adds the packages' ``__init__``."""
    files = module_files()
    graph: dict[str, frozenset[str]] = {}
    for name, path in files.items():
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        found: set[str] = set()
        for node in ast.walk(ast.parse(path.read_text())):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            found |= {t for t in map(_resolve, targets) if t and t != name}
        graph[name] = frozenset(found)
    return graph


def registry_packages() -> dict[str, str]:
    """Registry variable name -> the package its members live in, for the registries whose members are modules."""
    from harness.core import registry

    return {name: r.package for name, r in vars(registry).items() if isinstance(r, registry.Registry) and r.modules}


@cache
def registry_lookups() -> dict[str, dict[str, set[str]]]:
    """Module -> registry name -> the member names it looks up: literal names, ``*`` for all (``names()``) and
    ``?`` for a name computed at run time (resolved per stage by ``RULES``)."""
    registries = registry_packages()
    found: dict[str, dict[str, set[str]]] = {}
    for name, path in module_files().items():
        if name in VALIDATION_ONLY:
            continue
        tree = ast.parse(path.read_text())
        # listing the known names in an error message: the stage stops, it writes nothing those members could change
        in_errors = {id(n) for r in ast.walk(tree) if isinstance(r, ast.Raise) for n in ast.walk(r)}
        for node in ast.walk(tree):
            if id(node) in in_errors:
                continue
            if not (isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and isinstance(node.func.value, ast.Name)):
                continue
            reg, verb = node.func.value.id, node.func.attr
            if reg not in registries or verb not in ("get", "names"):
                continue
            if registries[reg] == name or name.startswith(registries[reg] + "."):
                continue  # a member of the registry's own package
            arg = node.args[0] if node.args else None
            names = ALL if verb == "names" else (arg.value if isinstance(arg, ast.Constant) else "?")
            found.setdefault(name, {}).setdefault(reg, set()).add(names)
    return found


@cache
def member_modules(registry: str) -> frozenset[str]:
    """The modules that register a member of ``registry`` (``@METHODS.register(...)``)."""
    package = registry_packages()[registry]
    return frozenset(name for name, path in module_files().items()
                     if name.startswith(package + ".") and f"{registry}.register(" in path.read_text())


def closure(module: str) -> set[str]:
    """The harness modules a stage's process runs for ``module``: imports at any depth, with every package's
    ``__init__`` on the way, dispatch excluded."""
    files, graph = module_files(), import_graph()
    seen: set[str] = set()
    todo = [module]
    while todo:
        m = todo.pop()
        if m in seen or m in DISPATCH:
            continue
        seen.add(m)
        todo += graph.get(m, ())
        parent = m.rpartition(".")[0]
        if parent in files:
            todo.append(parent)
    return seen


# --- which members a stage looks up by a name computed at run time ------------------------------------------------
# command -> registry -> function(params) -> member names, or a dvc.yaml template resolved per foreach item.


def _train_methods(params: Params, runs: list[str]) -> list[str]:
    return sorted({params.train[r].method for r in runs})


def _causal_methods(params: Params, runs: list[str]) -> list[str]:
    causal = causal_of(params)
    return sorted({causal.runs[r].method for r in runs if r in causal.runs}) if causal else []


def _paperscale_methods(params: Params) -> list[str]:
    spec = load_yaml((ROOT / PAPERSCALE_SPEC).read_text()) or {}
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, dict):
            if isinstance(node.get("method"), str):
                found.add(node["method"])
            for value in node.values():
                walk(value)
        elif isinstance(node, list):
            for value in node:
                walk(value)

    walk(spec)
    return sorted(found)


def _causal_task(params: Params) -> list[str]:
    causal = causal_of(params)
    return [causal.task] if causal else []


Rule = Callable[[Params], "list[str] | str"]
PER_RUN = "${item.method}"  # foreach over runs (train:, causal.runs:): each item names its method
RULES: dict[str, dict[str, Rule]] = {
    "prepare": {"SOURCES": lambda p: "${data.source}"},
    "tune": {"METHODS": lambda p: PER_RUN},
    "train": {"METHODS": lambda p: PER_RUN},
    "evaluate": {"METHODS": lambda p: PER_RUN},
    "truncate": {"METHODS": lambda p: _train_methods(p, p.truncate.runs)},
    "planted": {"METHODS": lambda p: [p.planted.student.method] if p.planted else []},
    "paperscale": {"METHODS": _paperscale_methods},
    "causal-data": {"METHODS": lambda p: [], "CAUSAL_TASKS": _causal_task},
    "causal-base": {"METHODS": lambda p: [], "CAUSAL_TASKS": _causal_task},
    "causal-train": {"METHODS": lambda p: PER_RUN, "CAUSAL_TASKS": _causal_task},
    "causal-evaluate": {"METHODS": lambda p: PER_RUN, "CAUSAL_TASKS": _causal_task},
    "causal-align": {"METHODS": lambda p: _causal_methods(p, [r.sft_run for r in causal_of(p).align.runs.values()]),
                     "CAUSAL_TASKS": _causal_task},
    "causal-rag": {"METHODS": lambda p: _causal_methods(p, list(causal_of(p).rag.models)), "CAUSAL_TASKS": _causal_task},
    "causal-knowledge": {"METHODS": lambda p: _causal_methods(p, [a.run for a in causal_of(p).knowledge.arms.values() if a.run]),
                         "CAUSAL_TASKS": _causal_task},
}


def _path(module: str) -> str:
    return str(module_files()[module].relative_to(ROOT))


def stage_code(command: str, params: Params, foreach: bool = True) -> list[str]:
    """The code deps of a stage running ``harness <command>``: files, sorted, each registry member by its file
    (a dvc.yaml template where it depends on the foreach item), or the member package where any member may run. A
    stage that is not a foreach has no item: a per-item rule there resolves to no member (``causal_icl``: the base
    model alone)."""
    from harness.core.command_table import COMMANDS

    registries = registry_packages()
    modules = closure(COMMANDS[command])
    members: dict[str, set[str]] = {}
    for module in sorted(modules):
        for reg, names in registry_lookups().get(module, {}).items():
            members.setdefault(reg, set()).update(names)
    deps = {_path(m) for m in modules}
    for reg, names in members.items():
        package = registries[reg]
        folder = package.replace(".", "/")
        if ALL in names or ("?" in names and reg not in RULES.get(command, {})):
            deps.add(folder)
            continue
        resolved: set[str] = {n for n in names if n != "?"}
        template = None
        if "?" in names:
            rule = RULES[command][reg](params)
            if isinstance(rule, str):
                template = rule if foreach else None
            else:
                resolved |= set(rule)
        for name in resolved:
            deps |= {_path(m) for m in closure(f"{package}.{name}")}
        if template is not None:
            deps.add(f"{folder}/{template}.py")
            # what the members it can stand for import besides themselves (their shared modules); no member imports
            # another (tests/test_architecture.py), so the template is the only member file a run needs
            for name in _template_members(reg, params, command):
                deps |= {_path(m) for m in closure(f"{package}.{name}") - member_modules(reg)}
    return sorted(deps)  # (expected_deps drops the files a package folder among them covers)


def _template_members(reg: str, params: Params, command: str) -> list[str]:
    """The members a foreach template stands for under these params: each contributes what it imports."""
    if reg == "METHODS" and command in ("tune", "train", "evaluate"):
        return sorted({run.method for run in params.train.values()})
    if reg == "METHODS" and command in ("causal-train", "causal-evaluate") and causal_of(params):
        return sorted({run.method for run in causal_of(params).runs.values()})
    if reg == "SOURCES":
        return [params.data.source]
    return []


def dvc_files(root: Path = ROOT) -> list[Path]:
    return [root / "dvc.yaml", *sorted((root / STUDIES).glob("*/dvc.yaml"))]


def _stages(doc: dict) -> list[tuple[str, dict, bool]]:
    """(name, body, whether it is a foreach) of every stage in a dvc.yaml document."""
    return [(name, stage.get("do", stage), "foreach" in stage) for name, stage in doc.get("stages", {}).items()]


def expected_deps(body: dict, params: Params, foreach: bool, pipelines: Pipelines) -> list[str]:
    """A stage body's deps as they should read: its non-code deps as written, then its code. A report (``REPORTS``)
    reads the default pipeline's results file by file and each study's results through its dvc.lock, which holds
    their hashes: a study's outputs are no dependency of the default pipeline, so ``dvc repro`` never runs a study.
    The status table also marks the claims of a stale study, so it depends on every study's code and params."""
    command = body["cmd"].split()[1]
    kept = [d for d in body.get("deps", []) if not (isinstance(d, str) and d.startswith("harness/")) or d in RUNTIME_READ]
    if command in REPORTS:
        kept = [d for d in kept if not pipelines.is_output(d) and not d.startswith(f"{STUDIES}/")]
        kept += pipelines.default_results + pipelines.locks
        if command == STALE_MARKS:
            kept += pipelines.study_inputs
    deps = list(dict.fromkeys([*kept, *stage_code(command, params, foreach)]))  # in order, each once
    folders = {d for d in deps if d.startswith("harness/") and not d.endswith(".py")}
    return [d for d in deps if not any(d.startswith(f + "/") for f in folders)]  # a package folder covers its files


REPORTS = {"atlas", "tabulate"}  # stages of the default pipeline that read every study's committed results
STALE_MARKS = "tabulate"  # the report that marks each claim on a stale study


@dataclasses.dataclass
class Pipelines:
    """What the reports' deps are made of, read from DVC's view of every dvc.yaml (foreach resolved)."""

    outputs: list[str]  # every stage's outputs, all pipelines
    default_results: list[str]  # the default pipeline's result files under results/ (reports' own excluded)
    locks: list[str]  # each study's dvc.lock
    study_inputs: list[str]  # every study stage's code deps and each study's params.yaml

    def is_output(self, path: str) -> bool:
        return any(path == o or o.startswith(path + "/") or path.startswith(o + "/") for o in self.outputs)

    @classmethod
    def read(cls, root: Path = ROOT) -> Pipelines:
        from dvc.repo import Repo

        outputs, default, inputs = set(), set(), set()
        studies = [f.parent for f in dvc_files(root)[1:]]
        with Repo(str(root)) as repo:
            for stage in repo.index.stages:
                where = Path(stage.dvcfile.path).resolve().parent
                rel = [os.path.relpath(o.fs_path, root) for o in stage.outs]
                outputs |= set(rel)
                command = stage.cmd.split()[1] if stage.cmd else ""
                if where == root.resolve() and command not in REPORTS:
                    default |= {r for r in rel if r.startswith(f"{RESULTS}/") and r.endswith(".json")}
                elif where != root.resolve():
                    inputs |= {d for d in (os.path.relpath(dep.fs_path, root) for dep in stage.deps) if d.startswith("harness/")}
        locks = [str((s / "dvc.lock").relative_to(root)) for s in studies]
        # a study's dvc.yaml cannot be a dependency (DVC refuses): a change there that stales the study is caught by
        # harness current's check of status.json's marks instead
        params = [str((s / "params.yaml").relative_to(root)) for s in studies]
        return cls(sorted(outputs), sorted(default), locks, sorted(inputs) + params)


def differences(root: Path = ROOT) -> dict[str, dict[str, list[str]]]:
    """dvc.yaml file:stage -> the deps it lacks and the ones it has in excess."""
    params, pipelines = load_params(root / PARAMS), Pipelines.read(root)
    wrong = {}
    for file in dvc_files(root):
        for name, body, foreach in _stages(load_yaml(file.read_text())):
            have, want = set(body.get("deps", [])), set(expected_deps(body, params, foreach, pipelines))
            if have != want:
                wrong[f"{file.relative_to(root)}:{name}"] = {"missing": sorted(want - have), "extra": sorted(have - want)}
    return wrong


def write(root: Path = ROOT) -> list[str]:
    """Rewrite every dvc.yaml's code deps from the graph (comments and everything else kept); the files changed."""
    from ruamel.yaml import YAML

    for file in dvc_files(root)[1:]:  # a study that never ran: an empty lock, so the reports can depend on it
        lock = file.with_name("dvc.lock")
        if not lock.exists():
            lock.write_text("schema: '2.0'\nstages: {}\n")
    params, pipelines = load_params(root / PARAMS), Pipelines.read(root)
    ry = YAML()
    ry.width = 200
    ry.indent(mapping=2, sequence=4, offset=2)
    changed = []
    for file in dvc_files(root):
        before = file.read_text()
        doc = ry.load(before)
        for _, stage in doc.get("stages", {}).items():
            body = stage["do"] if "do" in stage else stage
            deps = expected_deps(body, params, "foreach" in stage, pipelines)
            if list(body.get("deps", [])) != deps:
                body["deps"].clear()
                body["deps"].extend(deps)
        with file.open("w") as out:
            ry.dump(doc, out)
        if file.read_text() != before:
            changed.append(str(file.relative_to(root)))
    return changed


def main(argv: list[str]) -> None:
    if argv not in ([], ["--write"]):
        raise HarnessError("usage: harness deps [--write]")
    if argv == ["--write"]:
        changed = write()
        print(f"deps: rewrote {', '.join(changed)}" if changed else "deps: every dvc.yaml already lists its code")
        return
    wrong = differences()
    for stage, diff in wrong.items():
        print(f"{stage}: missing {diff['missing']}, extra {diff['extra']}", file=sys.stderr)
    if wrong:
        raise HarnessError(f"{len(wrong)} stages list other code than they import: `harness deps --write`")
    print("deps: every stage lists exactly the code it imports")
