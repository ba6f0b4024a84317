"""`harness current` (harness/commands/current.py) asked in-process of a small DVC project with a default pipeline and one
study: what each pipeline would rerun, what changed for it, the commit its results came from, and the check's
failures (a stale default, marks status.json did not record, a result from a dirty tree). The end-to-end run on
the shrunk real project is tests/test_pipeline.py's; this one takes seconds, so every line of the check is held."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys

import pytest

from harness.commands import current
from harness.commands.current import DEFAULT, Freshness, _flatten, _since, _some, dirty_results, freshness, main, pipeline_of
from harness.core.errors import HarnessError
from tests.test_provenance import git

WRITE = """import json, subprocess, sys
sha = subprocess.run(["git", "rev-parse", "HEAD"], capture_output=True, text=True).stdout.strip()
open(sys.argv[1], "w").write(json.dumps({"value": open(sys.argv[2]).read(), "provenance": {"git": {"sha": sha, "dirty": False}}}))
"""
DEFAULT_PIPELINE = f"""stages:
  first:
    cmd: {sys.executable} write.py results/first.json in.txt
    deps: [write.py, in.txt]
    params: [x]
    outs:
      - results/first.json:
          cache: false
  second:
    cmd: {sys.executable} write.py results/second.json results/first.json
    deps: [write.py, results/first.json]
    outs:
      - results/second.json:
          cache: false
"""
STUDY_PIPELINE = f"""stages:
  third:
    wdir: ../..
    cmd: {sys.executable} write.py results/studies/third.json study.txt
    deps: [write.py, study.txt]
    outs:
      - results/studies/third.json:
          cache: false
"""


@pytest.fixture(scope="module")
def built(tmp_path_factory):
    """The project, both pipelines run and their results committed."""
    root = tmp_path_factory.mktemp("built")
    (root / "results" / "studies").mkdir(parents=True)
    (root / "studies" / "s").mkdir(parents=True)
    for name, text in {"write.py": WRITE, "in.txt": "a", "study.txt": "b", "params.yaml": "x: 1\n", "dvc.yaml": DEFAULT_PIPELINE,
                       "studies/s/dvc.yaml": STUDY_PIPELINE}.items():
        (root / name).write_text(text)
    git(root, "init", "-q")
    subprocess.run(["dvc", "init", "-q"], cwd=root, check=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "code")
    for pipeline in ("dvc.yaml", "studies/s/dvc.yaml"):
        subprocess.run(["dvc", "repro", "-q", pipeline], cwd=root, check=True, capture_output=True)
    git(root, "add", "-A")
    git(root, "commit", "-qm", "results")
    return root


@pytest.fixture
def project(built, tmp_path, monkeypatch):
    root = tmp_path / "p"
    shutil.copytree(built, root)
    monkeypatch.chdir(root)
    return root


def since(root) -> str:
    return git(root, "rev-parse", "HEAD~1")[:7]  # the results record the commit they ran at: the code commit


def test_a_project_just_run_is_current_and_names_its_results_commit(project):
    found = freshness(project)
    assert list(found) == [DEFAULT, "s"]
    assert found[DEFAULT] == Freshness(DEFAULT, (), (), since(project), ("results/first.json", "results/second.json"))
    assert found["s"] == Freshness("s", (), (), since(project), ("results/studies/third.json",))


def test_a_changed_input_stales_its_stage_and_says_what_changed(project):
    (project / "in.txt").write_text("changed")
    (project / "params.yaml").write_text("x: 2\n")
    found = freshness(project)
    # the second stage's recorded input has not changed yet: dvc reruns it only once the first has rewritten it
    assert found[DEFAULT].stale == ("first",)
    assert set(found[DEFAULT].changed) == {"in.txt modified", "params.yaml: x modified"}
    assert found["s"].stale == ()


def test_an_edited_result_stales_the_stage_that_wrote_it(project):
    (project / "results" / "second.json").write_text("{}")
    found = freshness(project)
    assert found[DEFAULT].stale == ("second",) and found[DEFAULT].changed == ("results/second.json modified",)


def test_a_stale_study_is_marked_with_its_commit_and_what_changed(project):
    (project / "study.txt").write_text("changed")
    found = freshness(project)
    assert found[DEFAULT].stale == () and found["s"].stale == ("studies/s/dvc.yaml:third",)
    assert found["s"].mark() == f"stale since {since(project)}: study.txt modified"
    assert found["s"].as_dict() == {"stale": ["studies/s/dvc.yaml:third"], "changed": ["study.txt modified"], "since": since(project)}


def test_the_default_comes_first_whatever_the_studies_are_called(project):
    (project / "studies" / "a").mkdir()
    (project / "studies" / "a" / "dvc.yaml").write_text(STUDY_PIPELINE.replace("third", "fourth"))
    assert list(freshness(project)) == [DEFAULT, "a", "s"]


def test_a_cached_output_absent_as_on_a_fresh_clone_is_no_change(project):
    """CI checks out git alone: an output DVC caches (a model) is absent there, and so is the cache. That is no
    change (allow_missing), and never one of the changes listed for a stage stale for another reason."""
    (project / "dvc.yaml").write_text(DEFAULT_PIPELINE + f"""  model:
    cmd: {sys.executable} write.py model.json in.txt
    deps: [write.py, in.txt]
    outs: [model.json]
""")
    subprocess.run(["dvc", "repro", "-q", "model"], cwd=project, check=True, capture_output=True)
    git(project, "add", "-A")
    git(project, "commit", "-qm", "model")
    (project / "model.json").unlink()
    (project / "in.txt").write_text("changed")  # the output deleted but still cached: no change listed for it either
    found = freshness(project)[DEFAULT]
    assert found.stale == ("first", "model") and found.changed == ("in.txt modified",)
    (project / "in.txt").write_text("a")
    shutil.rmtree(project / ".dvc" / "cache")
    assert freshness(project)[DEFAULT].stale == ()
    (project / "in.txt").write_text("changed")
    found = freshness(project)[DEFAULT]
    assert found.stale == ("first", "model") and found.changed == ("in.txt modified",)


def test_a_mark_names_three_changes_and_counts_the_rest():
    assert Freshness("s", ("a",), ("1", "2", "3", "4", "5"), "abc1234").mark() == "stale since abc1234: 1; 2; 3 and 2 more"
    assert Freshness("s", ("a",), ("1", "2", "3", "4"), "abc1234").mark() == "stale since abc1234: 1; 2; 3 and 1 more"
    assert Freshness("s", ("a",), ("1", "2", "3"), "abc1234").mark() == "stale since abc1234: 1; 2; 3"
    assert Freshness("s", ("a",), (), None).mark() == "stale since never run: its stages changed"


def test_pipeline_of_names_the_study_of_a_study_file():
    assert pipeline_of("dvc.yaml") == DEFAULT and pipeline_of("studies/s/dvc.yaml") == "s"
    assert pipeline_of("other/s/dvc.yaml") == DEFAULT and pipeline_of("studies/dvc.yaml") == DEFAULT


def test_the_check_passes_a_current_project_and_names_each_study(project, capsys):
    main([])
    out = capsys.readouterr().out.splitlines()
    assert out == ["current: the default pipeline is up to date with dvc.lock and every result records a clean tree",
                   f"study s: current (results of {since(project)})"]


def test_the_check_passes_a_stale_study_and_says_how_to_rerun_it(project, capsys):
    (project / "study.txt").write_text("changed")
    main([])
    assert capsys.readouterr().out.splitlines()[1] == (
        f"study s: stale since {since(project)}: study.txt modified (1 stages; `make study STUDY=s` reruns it); status.md marks its claims stale")


def test_the_check_fails_a_stale_default_naming_what_dvc_would_rerun(project):
    (project / "in.txt").write_text("changed")
    with pytest.raises(HarnessError, match=r"^results are stale for the committed code, params or data: dvc would rerun first; run `dvc repro`"):
        main([])
    with pytest.raises(HarnessError, match=r"^usage: harness current \(no arguments\)$"):
        main(["--all"])


def test_the_check_fails_when_status_json_recorded_other_study_marks(project):
    status = project / "results" / "status.json"
    status.write_text(json.dumps({"stale_studies": {}}))
    main([])  # none recorded, none found
    status.write_text(json.dumps({"stale_studies": {"s": {"since": since(project)}}}))
    with pytest.raises(HarnessError, match=r"its stale-study marks \(s\) are not the ones found now \(none\); run `dvc repro -f tabulate`"):
        main([])
    (project / "study.txt").write_text("changed")
    main([])  # the marks recorded are the ones found
    status.write_text(json.dumps({"stale_studies": {"s": {"since": "0000000"}}}))
    with pytest.raises(HarnessError, match="not the ones found now"):
        main([])


def test_the_check_fails_a_result_from_a_dirty_tree(project):
    path = project / "results" / "studies" / "third.json"
    record = json.loads(path.read_text())
    record["provenance"]["git"]["dirty"] = True
    path.write_text(json.dumps(record))
    with pytest.raises(HarnessError, match=r"^results written from a dirty working tree: results/studies/third.json; commit the code"):
        main([])
    assert dirty_results(project / "results") == [str(path)]


def test_the_dirty_scan_reads_past_files_it_cannot_read(tmp_path):
    """A JSON file that is no record (unparseable, a list, no provenance or no git entry) is skipped, and the scan goes
    on to the files after it."""
    for name, text in {"a.json": "{not json", "b.json": "[1, 2]", "c.json": "{}", "d.json": '{"provenance": {}}',
                       "e.json": '{"provenance": {"git": "abc"}}', "f.json": '{"provenance": {"git": {"dirty": true}}}',
                       "g/h.json": '{"provenance": {"git": {"dirty": false}}}', "g/i.json": '{"provenance": {"git": {"dirty": true}}}'}.items():
        (tmp_path / name).parent.mkdir(exist_ok=True)
        (tmp_path / name).write_text(text)
    assert dirty_results(tmp_path) == [str(tmp_path / "f.json"), str(tmp_path / "g" / "i.json")]


def test_a_stage_dvc_is_running_is_stale_by_definition(project, monkeypatch):
    """Asked from inside a stage (tabulate reads freshness while dvc runs it and holds the repository's lock): that
    stage counts as stale with nothing listed for it, and the lock is not taken again."""
    monkeypatch.setenv("DVC_STAGE", "second")
    found = freshness(project)
    assert found[DEFAULT].stale == ("second",) and found[DEFAULT].changed == ()
    (project / "results" / "second.json").write_text("{}")  # what it is writing: still nothing listed for it
    assert freshness(project)[DEFAULT].changed == ()


def test_freshness_is_asked_of_the_project_given_from_anywhere(project, tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    found = freshness(project)
    assert found[DEFAULT].outputs == ("results/first.json", "results/second.json") and found["s"].stale == ()


def test_dvc_status_lines_are_flattened_with_their_keys():
    assert _flatten({"changed deps": {"a.py": "modified", "params.yaml": {"x": "modified"}}}) == ["a.py modified", "params.yaml: x modified"]
    assert _flatten([{"always changed": "yes"}, {"changed outs": {"o.json": "deleted"}}], "p: ") == ["p: always changed yes", "o.json deleted"]
    assert _flatten({"first": "new", "changed deps": {"b": "modified"}, "more": ["x", "y"]}) == ["first new", "b modified", "more: x", "more: y"]


def test_the_results_commit_is_read_past_outputs_that_are_no_record(tmp_path):
    from types import SimpleNamespace

    files = {"model": None, "plot.png": b"\x89PNG\x00\xff", "broken.json": b"{", "bare.json": b"{}", "good.json": b'{"provenance": {"git": {"sha": "0123456789abc"}}}'}
    for name, data in files.items():
        (tmp_path / name).mkdir() if data is None else (tmp_path / name).write_bytes(data)
    stage = SimpleNamespace(outs=[SimpleNamespace(fs_path=str(tmp_path / name)) for name in files])
    assert _since(stage) == "0123456"
    assert _since(SimpleNamespace(outs=stage.outs[:4])) is None


def test_lists_name_the_first_few_and_count_the_rest():
    assert _some(["a", "b", "c"], 2) == "a, b and 1 more" and _some(["a", "b"], 2) == "a, b" and _some(["a"], 2) == "a"


def test_the_check_counts_what_it_does_not_name(monkeypatch, tmp_path):
    """Twelve stale stages named, the rest counted; five dirty results named; a project without a default pipeline
    (only studies) has nothing stale in it; the recorded and found marks are listed in full."""
    monkeypatch.chdir(tmp_path)
    stale = tuple(f"s{i}" for i in range(14))
    monkeypatch.setattr(current, "freshness", lambda: {DEFAULT: Freshness(DEFAULT, stale, (), None)})
    with pytest.raises(HarnessError, match=r"dvc would rerun s0, s1, s2, s3, s4, s5, s6, s7, s8, s9, s10, s11 and 2 more; run"):
        main([])
    found = {"s": Freshness("s", ("x",), ("a modified",), "abc1234"), "t": Freshness("t", ("y",), ("b modified",), "abc1234")}
    monkeypatch.setattr(current, "freshness", lambda: found)
    (tmp_path / "results").mkdir()
    (tmp_path / "results" / "status.json").write_text(json.dumps({"stale_studies": {"u": {"since": "1"}, "v": {"since": "2"}}}))
    with pytest.raises(HarnessError, match=r"^results/status.json: its stale-study marks \(u, v\) are not the ones found now \(s, t\); run"):
        main([])
    (tmp_path / "results" / "status.json").write_text(json.dumps({"stale_studies": {}}))
    with pytest.raises(HarnessError, match=r"its stale-study marks \(none\) are not the ones found now \(s, t\)"):
        main([])
    (tmp_path / "results" / "status.json").unlink()
    for i in range(7):
        (tmp_path / "results" / f"r{i}.json").write_text('{"provenance": {"git": {"dirty": true}}}')
    with pytest.raises(HarnessError, match=r"dirty working tree: results/r0.json, results/r1.json, results/r2.json, results/r3.json, "
                                           r"results/r4.json and 2 more; commit the code"):
        main([])

