"""``harness <command>``: every usage error, for every command, is one line on stderr and exit status 2."""

from __future__ import annotations

import pytest

from harness.core import cli, command_table, workers
from harness.core.command_table import COMMANDS


@pytest.fixture
def no_pristine_mark(monkeypatch):
    """``command_table.run`` marks its process fresh for forking seeds; this test process is not."""
    monkeypatch.setattr(workers, "mark_pristine", lambda: None)


@pytest.mark.parametrize("command", sorted(COMMANDS))
def test_a_usage_error_exits_2_naming_it(command, tmp_path, monkeypatch, capsys, no_pristine_mark):
    monkeypatch.chdir(tmp_path)  # no params.yaml, no results: nothing a command could write to
    try:
        code = command_table.run([command, "--no-such-option", "x", "y"])
    except SystemExit as stop:  # argparse's own usage errors
        code = stop.code
    assert code == 2
    last = capsys.readouterr().err.strip().splitlines()[-1]
    assert "error" in last, last
    assert not any(tmp_path.iterdir()), "a refused command wrote something"


def test_an_unknown_command_names_the_closest(capsys):
    assert cli.main(["tarin", "lora"]) == 2
    assert capsys.readouterr().err.strip().startswith("error: unknown command 'tarin'; closest: train;")


def test_every_stage_module_is_a_command():
    from pathlib import Path

    import harness.stages

    modules = {p.stem for p in Path(harness.stages.__path__[0]).glob("*.py")} - {"__init__", *command_table.NOT_A_STAGE}
    assert {m.replace("_", "-") for m in modules} <= set(COMMANDS)
