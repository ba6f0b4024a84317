"""The README is a manual whose figures are checked against the pipeline it describes: stage counts and the rerun
example from DVC's own index, the study list from studies/, every chapter it links present."""

from __future__ import annotations

import re

import networkx as nx
import pytest
from dvc.repo import Repo

from tests.conftest import ROOT

README = (ROOT / "README.md").read_text()


@pytest.fixture(scope="module")
def stages():
    with Repo(str(ROOT)) as repo:
        index = repo.index
        return list(index.stages), index.graph


def default(stage) -> bool:
    return stage.dvcfile.relpath == "dvc.yaml"


def test_readme_is_a_short_manual_without_issue_numbers():
    assert len(README.splitlines()) < 250
    assert not re.search(r"\bissues?\s+#?\d+|#\d{2,}\b", README, re.IGNORECASE)
    for link in re.findall(r"\]\(([^)#]+)\)", README):
        assert (ROOT / link).is_file(), link


def test_readme_stage_counts_are_dvcs(stages):
    every, _ = stages
    ours = sum(default(s) for s in every)
    assert re.search(rf"\(`dvc.yaml`, `params.yaml`; {ours} stages\)", README), f"the default pipeline has {ours} stages"
    assert f"{len(every) - ours} stages in all" in README, f"the studies have {len(every) - ours} stages"


def test_readme_lists_every_study():
    listed = set(re.findall(r"^\| `([a-z_]+)` \| ", README, re.MULTILINE)) - {"measurement", "count", "transferred", "rating"}
    assert listed == {p.parent.name for p in (ROOT / "studies").glob("*/dvc.yaml")}


def reruns(stages, key: str) -> set[str]:
    """The default pipeline's stages ``dvc exp run -S <key>=...`` reruns: those whose params cover the key, and every
    stage downstream of them."""
    every, graph = stages
    direct = set()
    for stage in every:
        for dep in stage.deps:
            names = getattr(dep, "params", None)
            if names is None or "studies/" in dep.def_path:
                continue
            if any(key == n or key.startswith(n + ".") for n in names):
                direct.add(stage)
    touched = set(direct).union(*(nx.ancestors(graph, s) for s in direct))  # DVC's edges point at dependencies
    return {s.addressing for s in touched if default(s)}


def test_readme_rerun_example_is_what_dvc_reruns(stages):
    found = re.search(r"dvc exp run -S (\S+)=\S+\s+# reruns (.+) only", README)
    assert found, "the README shows what a one-key experiment reruns"
    named = set(re.split(r", | and ", found.group(2).replace("`", "")))
    assert named == reruns(stages, found.group(1))


def test_the_settings_reference_is_what_the_classes_say():
    """docs/settings.md is `harness validate --settings`: every setting's type, default and help text, read from the
    settings classes (their ``setting(help=...)``), so the reference cannot drift from the code."""
    from harness.commands.validate import settings_reference

    assert (ROOT / "docs" / "settings.md").read_text() == settings_reference(), "rerun: harness validate --settings > docs/settings.md"


def test_every_setting_carries_its_help_text():
    """Each field of every settings class a params file reaches has help text (a section without one prints an empty
    cell); the reference lists every registered method, source and causal task."""
    from harness.commands.validate import settings_reference
    from harness.core.registry import CAUSAL_TASKS, METHODS, SOURCES

    text = settings_reference()
    empty = [line for line in text.splitlines() if line.startswith("| `") and line.rstrip().endswith("|  |")]
    assert not empty, f"settings without help text: {empty}"
    for name in ("lora", "adalora", "loraplus", "qlora", "bottleneck", "knn"):  # methods with settings of their own
        assert f"## `methods.{name}, train.<run> with method {name}`" in text and name in METHODS
    for name in SOURCES.names():
        assert f"## `data.{name}`" in text
    for name in CAUSAL_TASKS.names():
        assert f"## `causal.data.generated (task {name})`" in text
