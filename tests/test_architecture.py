"""The package's shape, checked from its source: no import cycles, every registry in one leaf module,
every pipeline path named once (in ``harness/core/paths.py``) and declared by ``dvc.yaml``."""

from __future__ import annotations

import ast
import re
from pathlib import Path

import pytest
import yaml

import harness.core.paths as paths

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"


def module_name(path: Path) -> str:
    parts = path.relative_to(ROOT).with_suffix("").parts
    return ".".join(parts[:-1] if parts[-1] == "__init__" else parts)


def import_graph() -> dict[str, set[str]]:
    """Module -> the harness modules it imports, at any depth of its code (a lazy import inside a function
    is still a dependency). A package whose ``__init__`` imports every module in it (``pkgutil``) depends
    on each of them; importing a submodule is not counted as importing its package, as Python's
    tooling (pylint's cyclic-import, import-linter) does not count it."""
    files = {module_name(p): p for p in PACKAGE.rglob("*.py")}
    graph: dict[str, set[str]] = {name: set() for name in files}

    def resolve(name: str) -> str | None:
        while name and name not in files:
            name = name.rpartition(".")[0]
        return name or None

    for name, path in files.items():
        tree = ast.parse(path.read_text())
        package = name if path.name == "__init__.py" else name.rpartition(".")[0]
        for node in ast.walk(tree):
            targets: list[str] = []
            if isinstance(node, ast.Import):
                targets = [a.name for a in node.names]
            elif isinstance(node, ast.ImportFrom):
                base = node.module or ""
                if node.level:
                    anchor = package.split(".")[: len(package.split(".")) - node.level + 1]
                    base = ".".join([*anchor, *([node.module] if node.module else [])])
                targets = [f"{base}.{a.name}" if f"{base}.{a.name}" in files else base for a in node.names]
            elif isinstance(node, ast.Attribute) and node.attr == "iter_modules" and path.name == "__init__.py":
                targets = [m for m in files if m.rpartition(".")[0] == name]
            graph[name] |= {t for t in map(resolve, targets) if t and t != name}
    return graph


def cycles(graph: dict[str, set[str]]) -> list[list[str]]:
    """Strongly connected components with more than one module (Tarjan)."""
    index: dict[str, int] = {}
    low: dict[str, int] = {}
    stack: list[str] = []
    found: list[list[str]] = []

    def visit(v: str) -> None:
        index[v] = low[v] = len(index)
        stack.append(v)
        for w in sorted(graph[v]):
            if w not in index:
                visit(w)
                low[v] = min(low[v], low[w])
            elif w in stack:
                low[v] = min(low[v], index[w])
        if low[v] == index[v]:
            component = []
            while True:
                w = stack.pop()
                component.append(w)
                if w == v:
                    break
            if len(component) > 1:
                found.append(sorted(component))

    for v in sorted(graph):
        if v not in index:
            visit(v)
    return found


def test_no_import_cycles():
    assert cycles(import_graph()) == []


def test_cycle_finder_sees_a_member_importing_its_registering_package():
    """The shape the registries had: a package's __init__ registers every member and each member imported
    the registry back from that __init__. The finder must call that a cycle, or the test above proves nothing."""
    graph = {"harness.methods": {"harness.methods.lora"}, "harness.methods.lora": {"harness.methods"}, "harness.core.errors": set()}
    assert cycles(graph) == [["harness.methods", "harness.methods.lora"]]


def test_registries_live_in_one_leaf_module():
    registry = PACKAGE / "core" / "registry.py"
    made_elsewhere = [
        str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")
        if p != registry and re.search(r"\bRegistry\(", p.read_text())
    ]
    assert made_elsewhere == []
    assert import_graph()["harness.core.registry"] <= {"harness.core.errors"}


def test_every_pipeline_path_is_named_once():
    """A path literal under results/, models/, data/ or experiments/ appears in harness/core/paths.py only."""
    literal = re.compile(r"""["'](?:results|models|data|experiments)(?:/[\w.-]+)*["']""")
    elsewhere = []
    for p in PACKAGE.rglob("*.py"):
        if p.name == "paths.py":
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and literal.fullmatch(repr(arg.value)):
                    elsewhere.append(f"{p.relative_to(ROOT)}:{node.lineno}: Path({arg.value!r})")
    assert elsewhere == []


def declared_paths() -> set[str]:
    """Every path dvc.yaml's stages depend on or write (a ``${key}`` template stands for any run)."""
    stages = yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"]
    found: set[str] = set()
    for stage in stages.values():
        body = stage.get("do", stage)
        for section in ("deps", "outs", "metrics", "plots"):
            for entry in body.get(section, []):
                found.add(entry if isinstance(entry, str) else next(iter(entry)))
    return found


def test_every_output_path_is_one_dvc_declares():
    """What a stage writes, DVC must know about, or `dvc repro` neither reruns nor caches it."""
    declared = declared_paths()
    patterns = [re.compile(re.escape(d).replace(re.escape("${key}"), r"[\w-]+")) for d in declared]

    def covered(path: str) -> bool:
        # declared itself, inside a declared folder, or a folder whose files dvc.yaml declares one by one
        return any(p.fullmatch(path) for p in patterns) or any(path.startswith(d + "/") or d.startswith(path + "/") for d in declared)

    outputs = {name: str(value) for name, value in vars(paths).items()
               if isinstance(value, Path) and value.parts[0] in ("results", "models", "data")}
    missing = {name: path for name, path in outputs.items() if not covered(path)}
    assert missing == {}
    for kind in paths.RESULT_FOLDERS:
        assert covered(str(paths.result_file(kind, "lora"))), kind


def registry_packages() -> dict[str, str]:
    from harness.core import registry

    return {name: r.package for name, r in vars(registry).items() if isinstance(r, registry.Registry)}


def stage_code(module: str, graph: dict[str, set[str]], packages: dict[str, str]) -> set[str]:
    """The harness modules a stage's process runs: its module, the CLI, everything they import at any
    depth, and the package a registry loads when the stage looks a name up in it (``harness.core.registry``)."""
    uses: dict[str, set[str]] = {}
    for path in PACKAGE.rglob("*.py"):
        tree = ast.parse(path.read_text())
        names = {a.name for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module == "harness.core.registry" for a in node.names}
        name = module_name(path)
        # A member registering itself does not load its package; any other user looks names up. The config
        # loader looks up every registry only to validate params.yaml's sections: that can refuse a params
        # file, never change what a stage writes, so it does not make every method every stage's code.
        if name != "harness.core.config":
            uses[name] = {packages[n] for n in names if n in packages and not name.startswith(packages[n] + ".")}
    seen: set[str] = set()
    todo = [module, "harness.core.cli", "harness.core.commands"]
    while todo:
        m = todo.pop()
        if m in seen or m == "harness.preload":  # preload only picks the process a stage runs in
            continue
        seen.add(m)
        todo += [*graph.get(m, ()), *uses.get(m, ())]
    return seen


# Read at run time by lm-eval (task YAMLs and the functions they name), never imported by the harness.
RUNTIME_READ = {"harness/causal/lm_eval_tasks"}


def test_each_stage_lists_exactly_the_code_it_runs():
    """dvc.yaml's code deps are what the stage imports: a missing one lets a code change leave stale results
    behind; an extra one reruns a stage for code it never runs."""
    from harness.core.commands import COMMANDS

    graph, packages = import_graph(), registry_packages()
    files = {module_name(p): str(p.relative_to(ROOT)) for p in PACKAGE.rglob("*.py")}
    wrong = {}
    for stage, body in yaml.safe_load((ROOT / "dvc.yaml").read_text())["stages"].items():
        body = body.get("do", body)
        deps = [d for d in body.get("deps", []) if d.startswith("harness/")]
        code = {files[m] for m in stage_code(COMMANDS[body["cmd"].split()[1]], graph, packages)}
        missing = sorted(f for f in code if not any(f == d or f.startswith(d + "/") for d in deps))
        extra = [d for d in deps if d not in RUNTIME_READ and not any(f == d or f.startswith(d + "/") for f in code)]
        if missing or extra:
            wrong[stage] = {"missing": missing, "extra": extra}
    assert wrong == {}


def test_a_registry_whose_package_fails_to_import_fails_again_on_the_next_lookup(tmp_path, monkeypatch):
    """Not "unknown name" the second time: the import error is the cause, and it must stay visible."""
    from harness.core.registry import Registry

    (tmp_path / "broken_members.py").write_text("raise ImportError('needs a package that is not installed')\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    registry = Registry("widget", "broken_members")
    for _ in range(2):
        with pytest.raises(ImportError, match="needs a package that is not installed"):
            registry.get("anything")


def test_imports_are_sorted_one_way():
    """isort's order (standard library, third party, harness), as ruff checks it: `ruff check --select I --fix .`."""
    import subprocess
    import sys

    proc = subprocess.run([sys.executable, "-m", "ruff", "check", "--select", "I", "--output-format", "concise", "."], cwd=ROOT, capture_output=True, text=True)
    assert proc.returncode == 0, proc.stdout + proc.stderr
