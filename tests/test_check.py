"""The CI gate (``harness check``): it holds verdicts *and* numbers, exits non-zero on a regression, and
``--update`` says what it changed."""

import json

import pytest
import yaml

from harness.claims import gate
from harness.claims.engine import judge_all
from harness.claims.gate import compare, load_expected, state
from harness.claims.loading import load_claims
from harness.core.command_table import run as cli_run
from harness.core.io import read_json
from tests.conftest import ROOT


def row(cid, verdict, estimate, ci95, low=0.0, high=None, gate=True):
    return {"id": cid, "verdict": verdict, "estimate": estimate, "gate": gate, "detail": f"why {cid}",
            "evidence": {"mean": estimate, "ci95": ci95}, "region": {"low": low, "high": high}}


EXPECTED = {"held": {"a": {"verdict": "reproduced", "estimate": 1.0, "ci95": [0.5, 1.5], "region": [0.0, None]},
                     "b": {"verdict": "inconclusive", "estimate": 0.1, "ci95": [-0.4, 0.6], "region": [0.0, None]}},
            "not_run": ["c"]}


def test_a_verdict_drop_fails():
    worse, _ = compare(EXPECTED, [row("a", "inconclusive", 0.9, [-0.1, 1.9]), row("b", "inconclusive", 0.1, [-0.4, 0.6])])
    assert worse == ["a: expected reproduced, got inconclusive (why a)"]


def test_an_estimate_leaving_its_interval_towards_failure_fails_even_when_the_verdict_holds():
    """An inconclusive claim swinging to a clearly worse mean must not pass silently."""
    worse, _ = compare(EXPECTED, [row("a", "reproduced", 1.0, [0.5, 1.5]), row("b", "inconclusive", -0.5, [-1.9, 0.9])])
    assert worse == ["b: estimate -0.5 left the previous 95% interval [-0.4, 0.6] towards failing its region"]


def test_moves_inside_the_interval_or_away_from_failure_pass():
    worse, better = compare(EXPECTED, [row("a", "reproduced", 1.4, [1.0, 1.8]), row("b", "reproduced", 2.0, [1.5, 2.5])])
    assert worse == [] and better == ["b: expected inconclusive, got reproduced"]


@pytest.mark.parametrize("region, old, new, fails", [
    ([0.0, None], 1.0, 0.5, True), ([0.0, None], 1.0, 1.5, False),   # at least: down is towards failure
    ([None, 1.0], 0.5, 0.9, True), ([None, 1.0], 0.5, 0.1, False),   # at most: up is towards failure
    ([0.0, 2.0], 1.2, 1.6, True), ([0.0, 2.0], 1.2, 0.9, False),     # band: away from its middle
])
def test_the_wrong_direction_is_the_one_towards_failing_the_region(region, old, new, fails):
    assert gate.toward_failure(old, new, region) is fails


def test_a_vanished_claim_fails():
    worse, _ = compare(EXPECTED, [row("a", "reproduced", 1.0, [0.5, 1.5])])
    assert worse == ["b: expected inconclusive, missing from the results"]


def test_state_lists_not_run_claims_apart_and_holds_only_gated_ones():
    rows = [row("a", "reproduced", 1.0, [0.5, 1.5]), {**row("c", "not run", None, None), "evidence": None, "region": None},
            row("d", "reproduced", 3.0, [2.0, 4.0], gate=False)]
    s = state(rows)
    assert list(s["held"]) == ["a"] and s["not_run"] == ["c"]


@pytest.fixture
def project(tmp_path, monkeypatch):
    # the CLI marks its process pristine (safe to fork seeds from); this pytest process has run kernels already
    monkeypatch.setattr("harness.core.workers.mark_pristine", lambda: None)
    monkeypatch.chdir(tmp_path)
    (tmp_path / "experiments").mkdir()
    (tmp_path / "results").mkdir()
    (tmp_path / "experiments" / "expected_verdicts.yaml").write_text(yaml.safe_dump(EXPECTED))
    return tmp_path


def write_status(project, rows):
    (project / "results" / "status.json").write_text(json.dumps({"claims": rows}))


def test_check_main_exits_non_zero_on_a_regression_and_zero_otherwise(project, capsys):
    write_status(project, [row("a", "not reproduced", -1.0, [-1.5, -0.5]), row("b", "inconclusive", 0.1, [-0.4, 0.6])])
    assert cli_run(["check"]) == 2
    err = capsys.readouterr().err
    assert "REGRESSION: a: expected reproduced, got not reproduced" in err and "1 claim(s) regressed: a" in err
    write_status(project, [row("a", "reproduced", 1.1, [0.6, 1.6]), row("b", "inconclusive", 0.2, [-0.3, 0.7])])
    assert cli_run(["check"]) == 0
    out = capsys.readouterr().out
    assert "not held (1 gated claims not run here): c" in out and "check: 2 claims hold" in out


def test_check_update_prints_every_change_and_rewrites_the_expected_state(project, capsys):
    write_status(project, [row("a", "reproduced", 1.0, [0.5, 1.5]), row("b", "reproduced", 2.0, [1.5, 2.5]),
                           row("c", "inconclusive", 0.3, [-0.2, 0.8])])
    assert cli_run(["check", "--update"]) == 0
    out = capsys.readouterr().out
    assert "changed: b: inconclusive (0.1) -> reproduced (2) - why b" in out
    assert "changed: c: absent -> inconclusive (0.3) - why c" in out and "changed: c: runs now - why c" in out
    assert "changed: a:" not in out
    written = load_expected(project / "experiments" / "expected_verdicts.yaml")
    assert written["held"]["b"]["verdict"] == "reproduced" and written["not_run"] == []


def test_check_names_a_missing_status_and_bad_arguments(project, capsys):
    assert cli_run(["check"]) == 2 and "results/status.json: not found" in capsys.readouterr().err
    assert cli_run(["check", "--updat"]) == 2 and "allowed: --update" in capsys.readouterr().err


def test_the_committed_results_hold_the_gate():
    expected = load_expected(ROOT / "experiments" / "expected_verdicts.yaml")
    fresh = read_json(ROOT / "results" / "status.json")["claims"]
    worse, _ = compare(expected, fresh)
    assert worse == []
    gated = {c.id for c in load_claims(ROOT / "experiments" / "claims", ROOT) if c.gate}
    assert set(expected["held"]) | set(expected["not_run"]) == gated, "every gated claim is held or listed as not run, no stale ones"


def test_broken_lora_targets_fail_the_check():
    """LoRA applied to one module fewer (Wq only): the exact-count claim regresses and check names it."""
    from harness.claims.measures import Context
    from harness.stages.paperscale import count

    spec = yaml.safe_load((ROOT / "experiments" / "paperscale.yaml").read_text())
    broken = {"roberta-base.lora-r8-qv": count(spec["architectures"]["roberta-base"], {"method": "lora", "r": 8, "target_modules": ["query"]}, "test")}
    claims = [c for c in load_claims(ROOT / "experiments" / "claims", ROOT) if c.id == "lora.t2.roberta-base.params"]
    fresh = judge_all(claims, Context(profile="smoke", runs={}, paperscale=broken))
    expected = load_expected(ROOT / "experiments" / "expected_verdicts.yaml")
    worse, _ = compare({"held": {"lora.t2.roberta-base.params": expected["held"]["lora.t2.roberta-base.params"]}}, fresh)
    assert worse[0].startswith("lora.t2.roberta-base.params: expected reproduced, got not reproduced")


def test_interval_of_an_exact_row_is_its_value_and_directions_at_the_edges():
    assert gate.interval({"evidence": {"mean": 3.0, "ci95": None}}) == [3.0, 3.0]
    assert gate.interval({"evidence": {"mean": 3.0, "ci95": [2.0, 4.0]}}) == [2.0, 4.0]
    assert gate.interval({"evidence": None}) is None
    assert gate.toward_failure(1.0, 0.0, None) is False
    assert gate.toward_failure(1.0, 1.0, [0.0, None]) is False and gate.toward_failure(1.0, 1.0, [None, 2.0]) is False
    assert gate.toward_failure(1.0, 1.0, [0.0, 2.0]) is False
    assert gate.toward_failure(-5.0, -6.0, [None, 2.0]) is False and gate.toward_failure(5.0, 6.0, [0.0, 8.0]) is True


def test_changes_name_every_difference():
    old = {"held": {"a": {"verdict": "reproduced", "estimate": 1.0}, "b": {"verdict": "inconclusive", "estimate": 0.5},
                    "f": {"verdict": "reproduced", "estimate": 1.0}}, "not_run": ["c"]}
    new = {"held": {"a": {"verdict": "reproduced", "estimate": 1.0}, "d": {"verdict": "not reproduced", "estimate": -2.0}}, "not_run": ["b"]}
    rows = [{"id": "b", "detail": "gone"}, {"id": "d", "detail": "why d"}]
    assert gate.changes(old, new, rows) == [
        "b: inconclusive (0.5) -> absent - gone", "d: absent -> not reproduced (-2) - why d", "f: reproduced (1) -> absent",
        "b: now not run - gone", "c: runs now"]
    assert gate.changes({}, {"held": {}, "not_run": []}, []) == []
    tie = {"held": {"e": {"verdict": "inconclusive", "estimate": None}}, "not_run": []}  # a verdict with no estimate
    assert gate.changes({}, tie, [{"id": "e", "detail": "a tie"}]) == ["e: absent -> inconclusive - a tie"]


def test_expected_state_format_is_checked(tmp_path):
    path = tmp_path / "e.yaml"
    with pytest.raises(gate.HarnessError, match="not found; create it with harness check --update"):
        load_expected(path)
    path.write_text("a: reproduced\n")
    with pytest.raises(gate.HarnessError, match="expected the keys held and not_run"):
        load_expected(path)
    path.write_text("held: {a: {verdict: great, estimate: 1, ci95: null}}\n")
    with pytest.raises(gate.HarnessError, match="held.a.verdict: unknown 'great'"):
        compare(load_expected(path), [])


def test_every_regression_is_reported_not_only_the_first():
    expected = {"held": {"a": EXPECTED["held"]["a"], "b": EXPECTED["held"]["b"],
                         "c": {"verdict": "reproduced", "estimate": 1.0, "ci95": [0.5, 1.5], "region": [0.0, None]}}}
    worse, _ = compare(expected, [row("b", "not reproduced", -1.0, [-1.5, -0.5]), row("c", "inconclusive", 0.2, [-0.5, 0.9])])
    assert [w.split(":")[0] for w in worse] == ["a", "b", "c"]
    # an estimate regression first, a verdict drop after it
    worse, _ = compare(expected, [row("a", "reproduced", 0.2, [0.1, 0.3]), row("b", "inconclusive", 0.1, [-0.4, 0.6]),
                                  row("c", "not reproduced", -1.0, [-1.5, -0.5])])
    assert [w.split(":")[0] for w in worse] == ["a", "c"]


def test_an_estimate_on_the_edge_of_its_interval_has_not_left_it():
    for edge in (0.5, 1.5):
        worse, _ = compare({"held": {"a": EXPECTED["held"]["a"]}}, [row("a", "reproduced", edge, [edge - 0.4, edge + 0.4])])
        assert worse == []


def test_band_middle_decides_the_direction():
    assert gate.toward_failure(12.0, 17.5, [10.0, 20.0]) is False  # 2.5 from the middle (15), was 3: closer
    assert gate.toward_failure(17.0, 13.5, [10.0, 20.0]) is False


def test_update_from_an_old_format_file_and_its_summary(project, capsys):
    (project / "experiments" / "expected_verdicts.yaml").write_text("a: reproduced\n")
    write_status(project, [row("a", "reproduced", 1.0, [0.5, 1.5]), {**row("c", "not run", None, None), "evidence": None, "region": None}])
    assert cli_run(["check", "--update"]) == 0
    out = capsys.readouterr().out
    assert "previous expected state not read" in out and "writing it afresh" in out
    assert "experiments/expected_verdicts.yaml: 1 held claims, 1 not run; 2 changed" in out
    assert (project / "experiments" / "expected_verdicts.yaml").read_text().startswith(gate.HEADER + "held:\n  a:\n    verdict: reproduced\n")


def test_main_lists_improvements_not_run_and_every_regressed_claim(project, capsys):
    expected = {"held": {**EXPECTED["held"], "d": {"verdict": "reproduced", "estimate": 1.0, "ci95": [0.5, 1.5], "region": [0.0, None]}},
                "not_run": ["c", "e"]}
    (project / "experiments" / "expected_verdicts.yaml").write_text(yaml.safe_dump(expected))
    write_status(project, [row("a", "not reproduced", -1.0, [-1.5, -0.5]), row("b", "reproduced", 2.0, [1.5, 2.5]),
                           row("d", "not reproduced", -1.0, [-1.5, -0.5])])
    assert cli_run(["check"]) == 2
    out, err = capsys.readouterr()
    assert "improved: b: expected inconclusive, got reproduced" in out and "not held (2 gated claims not run here): c, e" in out
    assert err.strip().endswith("error: 2 claim(s) regressed: a, d")
    assert cli_run(["check", "--a", "--b"]) == 2 and "unknown arguments '--a --b'" in capsys.readouterr().err


def test_fresh_rows_of_a_status_without_claims(tmp_path):
    (tmp_path / "s.json").write_text("{}")
    assert gate.fresh_rows(tmp_path / "s.json") == []


def test_upper_edge_of_an_at_most_claim_and_a_claim_held_without_estimate():
    at_most = {"held": {"m": {"verdict": "reproduced", "estimate": 1.0, "ci95": [0.5, 1.5], "region": [None, 2.0]}}}
    assert compare(at_most, [row("m", "reproduced", 1.5, [1.1, 1.9], low=None, high=2.0)]) == ([], [])
    assert compare(at_most, [row("m", "reproduced", 1.6, [1.2, 2.0], low=None, high=2.0)])[0] == [
        "m: estimate 1.6 left the previous 95% interval [0.5, 1.5] towards failing its region"]
    diverged = {"held": {"d": {"verdict": "not reproduced", "estimate": None, "ci95": None, "region": [0.0, None]}}}
    assert compare(diverged, [row("d", "inconclusive", 0.3, [-0.2, 0.8])]) == ([], ["d: expected not reproduced, got inconclusive"])


def test_an_unknown_expected_verdict_names_the_allowed_ones():
    with pytest.raises(gate.HarnessError, match=r"allowed: reproduced, exceeded, inconclusive, insufficient runs, not reproduced, invalid, not run$"):
        compare({"held": {"a": {"verdict": "great", "estimate": 1.0, "ci95": None}}}, [])


def test_main_names_the_held_claims_judged_on_stale_results(project, capsys):
    """A gated claim held on a stale study's results still holds, and the check names it (status.md says why)."""
    write_status(project, [{**row("a", "reproduced", 1.1, [0.6, 1.6]), "stale": "stale since abc1234: x modified"},
                           {**row("b", "inconclusive", 0.2, [-0.3, 0.7]), "stale": None},
                           {**row("e", "reproduced", 1.0, [0.5, 1.5], gate=False), "stale": "stale since abc1234: x modified"}])
    assert cli_run(["check"]) == 0
    out = capsys.readouterr().out
    assert ("held on stale results (1 gated claims judged on a study whose results predate its code, params or data; "
            "status.md says since when and why): a\n") in out
    write_status(project, [{**row("a", "reproduced", 1.1, [0.6, 1.6]), "stale": "stale since abc1234: x modified"},
                           {**row("b", "inconclusive", 0.2, [-0.3, 0.7]), "stale": "stale since abc1234: x modified"}])
    assert cli_run(["check"]) == 0
    assert "held on stale results (2 gated claims" in (out := capsys.readouterr().out) and "why): a, b\n" in out
    write_status(project, [row("a", "reproduced", 1.1, [0.6, 1.6]), row("b", "inconclusive", 0.2, [-0.3, 0.7])])
    assert cli_run(["check"]) == 0 and "stale" not in capsys.readouterr().out

