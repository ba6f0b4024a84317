"""`harness preload`: calls made under it run in the preloaded server's fork, in the caller's directory, with the
caller's streams and exit status; a server holding other sources, or none at all, means a fresh process."""

import subprocess
import sys

import pytest

from harness.commands import preload
from harness.core.config import parse_params
from harness.core.io import read_json
from harness.stages import prepare, train, tune
from tests.conftest import set_runs, write_params

CLIENT = """
import sys
from harness.commands import preload
if sys.argv[1] == "stale":
    preload.source_key = lambda: "sources edited after the server started"
print("served:", preload.delegate(sys.argv[2:]), flush=True)
"""


@pytest.fixture
def served(workspace, tiny_raw):
    set_runs(tiny_raw, {"lora": tiny_raw["train"]["lora"]})
    tiny_raw["seeds"] = [0, 1]
    write_params(workspace, tiny_raw)
    prepare.run(parse_params(tiny_raw))
    tune.run(parse_params(tiny_raw), "lora")

    def run(*calls):
        script = "; ".join(f"{sys.executable} -c '{CLIENT}' {' '.join(call)}" for call in calls) + "; exit 7"
        return subprocess.run(["harness", "preload", "--", "sh", "-c", script], cwd=workspace, capture_output=True, text=True, timeout=300)

    return run


def test_calls_run_in_the_server_with_their_directory_streams_and_status(served, tiny_raw):
    proc = served(("fresh", "validate"), ("fresh", "evaluate", "no_such_run"), ("stale", "validate"), ("fresh", "train", "lora"))
    assert proc.returncode == 7, proc.stderr  # the command's own status (the served script ends with exit 7)
    out = proc.stdout.splitlines()
    assert out[0].startswith("params.yaml: valid (profile smoke, runs lora, seeds [0, 1])"), proc.stderr  # the caller's params.yaml
    assert out[1] == "served: 0"
    assert "error: params.yaml: train.no_such_run: no such run" in proc.stderr
    assert out[2] == "served: 2"
    assert "preload server: harness sources changed since it started; running in a fresh process" in proc.stderr
    assert out[3] == "served: None"  # the caller then runs the stage itself
    assert out[4] == "served: 0"

    # the served train stage forked its two seeds side by side, one thread each; the same stage run seed
    # after seed in this process gives the same loss curves to the bit
    assert "train@lora: round 0: seed 0 on 1 thread, seed 1 on 1 thread" in proc.stderr
    forked = read_json("results/train/lora.json")["seeds"]
    here = train.run(parse_params(tiny_raw), "lora")["seeds"]
    for seed in ("0", "1"):
        assert forked[seed]["loss_curve"] == [list(point) for point in here[seed]["loss_curve"]]
        assert forked[seed]["threads"] == here[seed]["threads"] == 1
    assert forked["0"]["loss_curve"] != forked["1"]["loss_curve"]


def test_without_a_reachable_server_calls_run_here(monkeypatch, tmp_path):
    monkeypatch.delenv(preload.ENV, raising=False)
    assert preload.delegate(["validate"]) is None
    monkeypatch.setenv(preload.ENV, str(tmp_path / "no-socket"))
    assert preload.delegate(["validate"]) is None


def test_source_key_follows_the_harness_sources(monkeypatch, tmp_path):
    (tmp_path / "a.py").write_text("x = 1\n")
    monkeypatch.setattr(preload, "PACKAGE", tmp_path)
    before = preload.source_key()
    (tmp_path / "a.py").write_text("x = 2\n")
    assert preload.source_key() != before
