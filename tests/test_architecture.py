"""The package's shape, checked from its source: no import cycles, every registry in one leaf module,
every pipeline path named once (in ``harness/core/paths.py``) and declared by ``dvc.yaml``."""

from __future__ import annotations

import ast
import functools
import importlib
import pkgutil
import re
from pathlib import Path

import pytest
import yaml

import harness.core.paths as paths
import harness.core.report_paths as report_paths
import harness.stages
from harness.commands.deps import dvc_files, import_graph, member_modules

ROOT = Path(__file__).resolve().parents[1]
PACKAGE = ROOT / "harness"


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
    """A path literal under results/, models/, data/ or experiments/ appears in harness/core/paths.py (every stage's)
    or harness/core/report_paths.py (the reports' own) only."""
    literal = re.compile(r"""["'](?:results|models|data|experiments)(?:/[\w.-]+)*["']""")
    elsewhere = []
    for p in PACKAGE.rglob("*.py"):
        if p.name in ("paths.py", "report_paths.py"):
            continue
        for node in ast.walk(ast.parse(p.read_text())):
            if isinstance(node, ast.Call) and getattr(node.func, "id", None) == "Path" and node.args:
                arg = node.args[0]
                if isinstance(arg, ast.Constant) and literal.fullmatch(repr(arg.value)):
                    elsewhere.append(f"{p.relative_to(ROOT)}:{node.lineno}: Path({arg.value!r})")
    assert elsewhere == []


def declared_paths() -> set[str]:
    """Every path the stages of every dvc.yaml (the default's and each study's) depend on or write (a ``${key}``
    template stands for any run)."""
    stages = [st for f in dvc_files() for st in yaml.safe_load(f.read_text())["stages"].values()]
    found: set[str] = set()
    for stage in stages:
        body = stage.get("do", stage)
        for section in ("deps", "outs", "metrics", "plots"):
            for entry in body.get(section, []):
                found.add(entry if isinstance(entry, str) else next(iter(entry)))
    return found


def test_every_output_path_is_one_dvc_declares():
    """What a stage writes, DVC must know about, or `dvc repro` neither reruns nor caches it."""
    declared = declared_paths()
    patterns = [re.compile(re.escape(d).replace(re.escape("${key}"), r"[\w-]+").replace(re.escape("${item}"), r"[\w-]+")) for d in declared]

    def covered(path: str) -> bool:
        # declared itself, inside a declared folder, or a folder whose files dvc.yaml declares one by one
        return any(p.fullmatch(path) for p in patterns) or any(path.startswith(d + "/") or d.startswith(path + "/") for d in declared)

    # paths.py's, report_paths.py's, and an output folder a stage module names for itself (docs/extending.md: a stage)
    modules = [paths, report_paths, *(importlib.import_module(f"harness.stages.{m.name}") for m in pkgutil.iter_modules(harness.stages.__path__))]
    outputs = {f"{module.__name__}.{name}": str(value) for module in modules for name, value in vars(module).items()
               if isinstance(value, Path) and value.parts and value.parts[0] in ("results", "models", "data")}
    missing = {name: path for name, path in outputs.items() if not covered(path)}
    assert missing == {}
    for kind in paths.RESULT_FOLDERS:
        assert covered(str(paths.result_file(kind, "lora"))), kind


# an experiments/ path a module names without it being an input of the stages that run it: harness/core/provenance.py
# reads a profile file only to record, in provenance, which profile params.yaml is (``params_from``)
NOT_INPUTS = {("harness/core/provenance.py", "PROFILES")}


@functools.cache
def names_in(module_file: str) -> frozenset[str]:
    """Every name and attribute a module's source mentions (parsed once, though many stages list the module)."""
    tree = ast.parse((ROOT / module_file).read_text())
    return frozenset({n.id for n in ast.walk(tree) if isinstance(n, ast.Name)} | {n.attr for n in ast.walk(tree) if isinstance(n, ast.Attribute)})


def test_every_experiments_file_a_stage_reads_is_one_of_its_deps():
    """A stage whose code names a file under experiments/ (a constant of paths.py or report_paths.py) lists that
    file, or a folder holding it, among its deps: otherwise editing it leaves the stage's results stale while
    `dvc repro` and `harness current` call them current (experiments/seed_plan.yaml was read by tabulate and atlas
    without being one)."""
    constants = {name: str(value) for module in (paths, report_paths) for name, value in vars(module).items()
                 if isinstance(value, Path) and value.parts[:1] == ("experiments",) and len(value.parts) > 1}
    undeclared = []
    for dvc_file in dvc_files():
        for name, stage in yaml.safe_load(dvc_file.read_text())["stages"].items():
            body = stage.get("do", stage)
            deps = [d if isinstance(d, str) else next(iter(d)) for d in body.get("deps", [])]
            for dep in deps:
                if not (dep.startswith("harness/") and dep.endswith(".py")) or "${" in dep or dep.endswith(("/paths.py", "/report_paths.py")):
                    continue
                for constant in sorted(names_in(dep) & constants.keys()):
                    path = constants[constant]
                    if (dep, constant) not in NOT_INPUTS and not any(path == d or path.startswith(d.rstrip("/") + "/") for d in deps):
                        undeclared.append(f"{dvc_file.relative_to(ROOT)}: {name}: {dep} reads {path}")
    assert undeclared == []


def test_each_stage_lists_exactly_the_code_it_runs():
    """dvc.yaml's deps are what `harness deps --write` derives from the imports: a missing one lets a code change leave
    stale results behind; an extra one reruns a stage for code it never runs."""
    from harness.commands.deps import differences

    assert differences() == {}


def test_no_member_named_through_a_template_imports_another():
    """A run's deps name its own member's file through a template (``harness/methods/${item.method}.py``,
    ``harness/data/${data.source}.py``): that is exact only while no member of those registries imports another
    (shared code lives in a module that registers nothing). Members resolved from the params by name depend on
    everything they import, siblings included."""
    graph = import_graph()
    crossing = {reg: {m: sorted(graph[m] & (members - {m})) for m in members if graph[m] & (members - {m})}
                for reg in ("METHODS", "SOURCES") for members in [member_modules(reg)]}
    assert {reg: found for reg, found in crossing.items() if found} == {}
    assert "harness.methods.lora" in member_modules("METHODS") and "harness.methods.lora_common" not in member_modules("METHODS")


def test_a_run_depends_on_its_own_method_not_on_its_siblings():
    """What DVC resolves for train@lora: LoRA's module and the shared ones, never another method's."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        stage = next(s for s in repo.index.stages if s.addressing == "train@lora")
        deps = {str(Path(d.fs_path).relative_to(ROOT)) for d in stage.deps}
    methods = {d for d in deps if d.startswith("harness/methods/")}
    assert methods == {"harness/methods/__init__.py", "harness/methods/base.py", "harness/methods/lora.py", "harness/methods/lora_common.py"}
    assert "harness/core/command_table.py" not in deps and "harness/core/cli.py" not in deps and "harness/commands/preload.py" not in deps


def test_a_track_or_a_scheduler_edit_reruns_only_the_stages_that_import_it():
    """The causal track's settings are parsed by its own stages (harness.causal.settings.causal_of), not by the
    config every stage loads, and rank 0 is asked of harness.core.ranks, not of the seed scheduler: a default
    stage lists neither the causal track nor, where it runs no seeds, the scheduler."""
    from dvc.repo import Repo

    with Repo(str(ROOT)) as repo:
        deps = {s.addressing: {str(Path(d.fs_path).relative_to(ROOT)) for d in s.deps} for s in repo.index.stages
                if s.dvcfile.path == str(ROOT / "dvc.yaml")}
    reports = {"tabulate", "atlas"}  # they read the causal study's results, so they parse its section
    for stage, files in deps.items():
        if stage not in reports:
            assert not any(f.startswith("harness/causal/") for f in files), stage
    assert "harness/core/workers.py" not in deps["prepare"] and "harness/core/workers.py" in deps["train@lora"]


def test_a_registry_looks_up_one_member_module():
    """``METHODS.get("lora")`` imports LoRA's module alone (a fresh interpreter, so no other test imported more)."""
    import subprocess
    import sys

    code = ("import sys; from harness.core.registry import METHODS; METHODS.get('lora'); "
            "print(sorted(m for m in sys.modules if m.startswith('harness.methods.')))")
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, check=True).stdout
    assert out.strip() == "['harness.methods.base', 'harness.methods.lora', 'harness.methods.lora_common']"


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


@pytest.mark.parametrize("registry", ["METHODS", "SOURCES", "METRICS", "CAUSAL_TASKS", "GENERATION_METRICS"])
def test_a_member_is_named_once_lowercase_and_as_its_file(registry):
    """A member's registered name is a lowercase identifier, its module's name, and the ``name`` its class
    declares (where it declares one): the two spellings cannot drift apart unnoticed."""
    from harness.core import registry as registries

    reg = getattr(registries, registry)
    for name in reg.names():
        item = reg.get(name)
        assert name.isidentifier() and name == name.lower(), f"{registry}: {name!r} is not a lowercase identifier"
        assert item.__module__ == f"{reg.package}.{name}", f"{registry}: {name!r} is registered in {item.__module__}"
        assert getattr(item, "name", name) == name, f"{registry}: {name!r} declares name = {item.name!r}"


def test_register_writes_the_name_once_and_refuses_one_that_is_not_a_module_name():
    from harness.core.registry import Registry

    reg = Registry("thing", "harness.no_such_package")

    @reg.register("dora")
    class Dora:
        pass

    assert Dora.name == "dora" and reg._items["dora"] is Dora
    for bad in ("DoRA", "do-ra"):
        with pytest.raises(ValueError, match="lowercase"):
            reg.register(bad)
    with pytest.raises(ValueError, match="registered twice"):
        reg.register("dora")(Dora)
