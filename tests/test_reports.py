"""The report modules on their own: rank maps, the budget sweep, the causal rows, switching profiles, and the
status table as a pure rendering of results/status.json whose verdicts are recomputable from the result files."""

import json
import math
import re

import numpy as np
import pytest
import yaml

from harness.causal.report import causal_rows
from harness.causal.settings import causal_of
from harness.claims.engine import judge_all, pipeline_context
from harness.claims.loading import load_claims
from harness.commands import use_profile
from harness.core.config import load_params
from harness.core.errors import HarnessError
from harness.core.io import read_json
from harness.report.rankmaps import grid, write_rank_map
from harness.report.sweep import sweep_table
from harness.stages import tabulate
from tests.conftest import ROOT

RESULTS = ROOT / "results"


def test_rank_map_grid_and_files(tmp_path):
    pattern = {"bert.encoder.layer.0.attention.self.query": 3, "bert.encoder.layer.0.attention.self.value": 1,
               "bert.encoder.layer.1.attention.self.query": 2, "bert.encoder.layer.1.attention.self.value": 0}
    layers, modules, matrix = grid(pattern)
    assert layers == [0, 1] and modules == ["query", "value"] and matrix.tolist() == [[3, 2], [1, 0]]
    other = {k: v + 1 for k, v in pattern.items()}
    data = write_rank_map("r", {"0": pattern, "1": other}, 4, tmp_path / "json", tmp_path / "png", {"git": {"sha": "s"}})
    assert np.allclose(data["mean_rank"], [[3.5, 2.5], [1.5, 0.5]]) and data["provenance"] == {"git": {"sha": "s"}}
    assert json.loads((tmp_path / "json" / "r.json").read_text())["per_seed"]["1"] == [[4, 3], [2, 1]]
    assert (tmp_path / "png" / "r.png").stat().st_size > 0


def test_sweep_table_means_over_seeds_and_counts_stored_parameters():
    runs = {"a": {"train": {"seeds": {"0": {"trainable_params": 10, "effective_params": 8}, "1": {"trainable_params": 10, "effective_params": 8}}},
                  "eval": {"seeds": {"0": {"metrics": {"accuracy": 90.0}}, "1": {"metrics": {"accuracy": 92.0}}}}},
            "b": {"train": {"seeds": {"0": {"trainable_params": 20}}}, "eval": {"seeds": {"0": {"metrics": {"accuracy": 95.0}}}}}}
    table = sweep_table({"s": ["a", "b"]}, runs, "accuracy")
    assert [p["effective_params"] for p in table["s"]] == [8, 20]  # stored, else trainable
    assert table["s"][0]["score"]["mean"] == 91.0 and table["s"][0]["score"]["n"] == 2


def test_causal_rows_read_every_run_the_in_context_row_and_the_retrieval_rows():
    params = load_params(ROOT / "params.yaml")
    rows = {r["run"]: r for r in causal_rows(causal_of(params), pipeline_context(params, RESULTS))}
    assert list(rows) == [*causal_of(params).runs, "icl", "base_rag", "lora_all_rag"]
    seeds = {**{run: cfg.seeds or params.seeds for run, cfg in causal_of(params).runs.items()}, "icl": params.seeds, "base_rag": params.seeds}
    seeds["lora_all_rag"] = seeds["lora_all"]
    assert all(r["metrics"]["bleu"]["n"] == len(seeds[name]) for name, r in rows.items())
    assert "trainable_params" not in rows["icl"] and "trainable_params" not in rows["base_rag"]  # the base model trains nothing
    assert rows["lora_all_rag"]["trainable_params"] == rows["lora_all"]["trainable_params"]  # lora_all's adapters, asked with retrieval


def test_use_profile_switches_only_to_a_valid_profile(tmp_path, monkeypatch):
    monkeypatch.chdir(tmp_path)
    (tmp_path / "params.yaml").write_text("profile: before\n")
    bad = tmp_path / "bad.yaml"
    bad.write_text("profile: x\ntrian: {}\n")
    with pytest.raises(HarnessError, match="trian: unknown key"):
        use_profile.main([str(bad)])
    assert (tmp_path / "params.yaml").read_text() == "profile: before\n"
    good = ROOT / "experiments" / "profiles" / "paper-lora-roberta-base-sst2.yaml"
    use_profile.main([str(good)])
    assert yaml.safe_load((tmp_path / "params.yaml").read_text())["profile"] == "paper-lora-roberta-base-sst2"


def test_the_status_table_is_a_rendering_of_status_json():
    status = read_json(RESULTS / "status.json")
    assert tabulate.render(status) == (RESULTS / "status.md").read_text()


def test_every_committed_verdict_is_recomputed_from_the_result_files():
    """Measures read the result files, judges decide, and the committed table says exactly that."""
    params = load_params(ROOT / "params.yaml")
    fresh = judge_all(load_claims(ROOT / "experiments" / "claims", ROOT, check_runs=False), pipeline_context(params, RESULTS))
    committed = {c["id"]: c for c in read_json(RESULTS / "status.json")["claims"]}
    assert [r["id"] for r in fresh] == list(committed)
    # every field of every row, as committed; tabulate adds each row's stale-study mark (next test)
    assert json.loads(json.dumps(fresh)) == [{k: v for k, v in row.items() if k != "stale"} for row in committed.values()]


def test_the_committed_stale_marks_are_the_studies_found_stale_now():
    """Every claim judged on a stale study's results says so, and no other: recomputed from DVC's view of each
    pipeline (harness/commands/current.py) and the claims' measures."""
    from harness.commands.current import DEFAULT, freshness
    from harness.stages.tabulate import stale_marks, studies_read

    params = load_params(ROOT / "params.yaml")
    pipelines = freshness(ROOT)
    studies = {n: f for n, f in pipelines.items() if n != DEFAULT and f.stale}
    status = read_json(RESULTS / "status.json")
    assert set(status["stale_studies"]) == set(studies)
    reads = studies_read(load_claims(ROOT / "experiments" / "claims", ROOT, check_runs=False), params.profile, pipelines)
    marks = stale_marks(reads, studies)
    assert {c["id"]: c["stale"] for c in status["claims"] if c["stale"]}.keys() == marks.keys()
    assert all(c["stale"] is None for c in status["claims"] if c["id"] not in marks)


def test_every_profile_folder_is_listed_with_its_runs_and_cost():
    """results/profiles/<name>/ (harness run-profile) each appear under Profiles in status.md: data, runs with
    their primary metric, commit, wall time and machine, all read from the folder."""
    status = read_json(RESULTS / "status.json")
    folders = sorted(p.parent.name for p in (RESULTS / "profiles").glob("*/params.yaml"))
    assert [p["profile"] for p in status["profiles"]] == folders
    table = (RESULTS / "status.md").read_text()
    for p in status["profiles"]:
        run = read_json(RESULTS / "profiles" / p["profile"] / "run.json")
        row = next(line for line in table.splitlines() if line.startswith(f"| `{p['profile']}` |"))
        assert f"{run['wall_seconds'] / 60:.1f} min" in row and run["provenance"]["git"]["sha"][:10] in row
        assert [r["run"] for r in p["runs"]] + p["not_run"] == list(load_params(RESULTS / "profiles" / p["profile"] / "params.yaml").train)
        for r in p["runs"]:  # beside each score: the lr and steps chosen on validation, and an edge still held at the cap
            tune = read_json(RESULTS / "profiles" / p["profile"] / "tune" / f"{r['run']}.json")
            steps = {s["steps"] for s in read_json(RESULTS / "profiles" / p["profile"] / "train" / f"{r['run']}.json")["seeds"].values()}
            shown = re.search(rf"[:;] {re.escape(r['run'])} \S+ \[[^\]]*\] \(([^)]*)\)", row).group(1)
            edge = f", **grid edge**: {tune['grid_edge']}" if tune["grid_edge"] else ""
            points = [*tune["grid"], *(g for length in tune["lengths"] or [] for g in length["grid"])]
            scores = {g["validation"] for g in points if g["validation"] is not None}  # a diverged point has no score
            tied = ", **every lr and length tied on validation**" if len(points) > 1 and len(scores) == 1 else ""
            assert shown == (f"n={r['score']['n']}" if tune["chosen_lr"] is None else
                             f"n={r['score']['n']}; lr {tune['chosen_lr']:.2g}, {steps.pop()} steps{edge}{tied}")


def test_a_profile_runs_training_choice_reads_its_tuning():
    from harness.stages.tabulate import tuned_choice, tuned_text

    tune = {"chosen_lr": 0.0015, "grid_edge": "steps top", "steps_factor": 4.0}
    assert tuned_text({"steps": 800, **tuned_choice(tune)}) == "; lr 0.0015, 800 steps, **grid edge**: steps top"
    assert tuned_text({"steps": 200, **tuned_choice({**tune, "grid_edge": None})}) == "; lr 0.0015, 200 steps"
    assert tuned_text({"steps": 0, **tuned_choice({"chosen_lr": None, "grid_edge": None})}) == ""  # no gradient steps (k-NN)
    assert tuned_choice(None) == {}
    flat = {"chosen_lr": 0.0005, "grid_edge": None, "grid": [{"validation": 0.0}, {"validation": 0.0}],
            "lengths": [{"grid": [{"validation": 0.0}]}, {"grid": [{"validation": 0.0}, {"validation": None}]}]}
    assert tuned_text({"steps": 200, **tuned_choice(flat)}) == "; lr 0.0005, 200 steps, **every lr and length tied on validation**"
    flat["lengths"][1]["grid"][1]["validation"] = 0.1  # one point that scored apart: a choice by score
    assert tuned_text({"steps": 200, **tuned_choice(flat)}) == "; lr 0.0005, 200 steps"
    assert not tuned_choice({"chosen_lr": 0.0005, "grid_edge": None, "grid": [{"validation": 0.0}]})["tied"]  # one point: nothing tied


def test_the_paper_tables_are_the_committed_verdicts_laid_out_as_printed():
    """results/tables/ renders exactly status.json's verdicts, in the papers' own rows and columns."""
    from harness.claims.tables import paper_tables

    claims = load_claims(ROOT / "experiments" / "claims", ROOT, check_runs=False)
    tables = paper_tables(claims, read_json(RESULTS / "status.json")["claims"])
    assert {name: (RESULTS / "tables" / name).read_text() for name in tables} == tables
    assert sorted(p.name for p in (RESULTS / "tables").glob("*.md")) == sorted(tables)
    table1 = tables["adalora-table-1.md"].splitlines()
    header = table1[table1.index(next(line for line in table1 if line.startswith("| row |")))]
    assert header == "| row | trainable | MNLI (m) | SST-2 | CoLA | QQP (acc) | QQP (F1) | QNLI | RTE | MRPC | STS-B |"
    body = [line for line in table1 if line.startswith("| ") and not line.startswith("| row")]
    assert [line.split(" | ")[0] for line in body] == ["| LoRA r=8", "| AdaLoRA 1.27M", "| LoRA r=2", "| AdaLoRA 0.32M"]
    assert body[0].startswith("| LoRA r=8 | 1.33M · ours 1,327,104 (exact) **reproduced** | 90.65 · *not run* [")
    sst2 = re.search(r"\| AdaLoRA 1\.27M \| [^|]+ \| [^|]+ \| 96\.10 · \*not run\* \[(\d+)\]", tables["adalora-table-1.md"])
    note = next(line for line in table1 if line.startswith(f"{sst2.group(1)}. "))
    assert note.endswith("needs gpu, network: profile paper-adalora-debertav3-base-sst2 has not run here: "
                         "`harness run-profile paper-adalora-debertav3-base-sst2`")
    assert "| RoBERTa-base LoRA | 0.3M · ours 294,912 (exact) **reproduced** | 87.5 · *not run*" in tables["lora-table-2.md"]


def test_two_claims_on_one_printed_cell_share_it_and_file_names_are_slugs():
    import dataclasses

    from harness.claims.tables import paper_tables

    claims = load_claims(ROOT / "experiments" / "claims", ROOT, check_runs=False)
    first = next(c for c in claims if c.id == "adalora.t1.rte-0.3m")
    second = dataclasses.replace(first, id=first.id + ".again")
    judged = [{"verdict": "not run", "detail": "why one"}, {"verdict": "not run", "detail": "why two"}]
    (name, table), = paper_tables([first, second], judged).items()
    assert name == "adalora-table-1.md"
    from harness.claims.tables import _slug

    assert _slug("(LoRA+) Table 2!") == "lora-table-2"
    assert f"{first.published.text} · *not run* [1]<br>{first.published.text} · *not run* [2]" in table


def test_a_measured_cell_shows_ours_its_interval_verdict_and_profile():
    from harness.claims.tables import cell

    claim = next(c for c in load_claims(ROOT / "experiments" / "claims", ROOT, check_runs=False) if c.id == "adalora.t1.rte-0.3m")
    judged = {"verdict": "not reproduced", "estimate": 84.1, "evidence": {"ci95": [83.0, 85.2]}, "detail": ""}
    assert cell(claim, judged) == "87.36 · ours 84.1 [83, 85.2] **not reproduced** (`paper-adalora-debertav3-base-rte-b144`)"
    # one seed: no interval to print
    assert cell(claim, {**judged, "verdict": "insufficient runs", "evidence": {"ci95": None}}) == \
        "87.36 · ours 84.1 **insufficient runs** (`paper-adalora-debertav3-base-rte-b144`)"


def test_each_components_forest_plot_renders_from_status_json_alone(tmp_path):
    """One PNG per component with claims, one row per claim; rows with nothing to draw say why; status.md links each."""
    from PIL import Image

    from harness.claims.forest import forest_rows, plot_components

    status = read_json(RESULTS / "status.json")
    written = plot_components(status, tmp_path)
    with_claims = {c["component"] for c in status["claims"] if c["component"]}
    assert set(written) == with_claims
    for component, name in written.items():
        rows = forest_rows(status["claims"], component)
        assert len(rows) == sum(c["component"] == component for c in status["claims"])
        assert all((r["estimate"] is None) == (r["why"] is not None) for r in rows)
        assert all(r["why"] for r in rows if r["verdict"] in ("not run", "invalid"))
        height = Image.open(tmp_path / name).size[1]
        assert height >= 50 * len(rows)  # a row per claim, not a summary
        assert (RESULTS / "plots" / "forest" / name).is_file(), "the committed table links a plot tabulate wrote"
        assert f"(plots/forest/{name})" in (RESULTS / "status.md").read_text()



def test_the_forest_figure_draws_each_rows_region_intervals_and_estimate_or_says_why(tmp_path):
    """Read back from the figure: per row, the claim and its verdict in the verdict's colour; the accepted region
    shaded between its ends (an open end: to the axis' edge) with a line at each finite end; the 95% interval thin,
    the 90% thick, the estimate a dot; the x range every drawn value needs, padded by 15% (a single value: 10% of
    it, at least 0.1); a row with nothing to draw its reason, cut to 100 characters."""
    import matplotlib.pyplot as plt
    from matplotlib.colors import to_rgba

    from harness.claims import forest
    from harness.claims.forest import COLOURS, _span, draw_forest

    drawn = {"id": "a.x", "verdict": "not reproduced", "estimate": 1.5, "ci90": [1.0, 2.0], "ci95": [0.8, 2.2], "low": 2.5, "high": None, "why": None}
    closed = {**drawn, "id": "a.y", "verdict": "reproduced", "low": -1.0, "high": 3.0}
    blank = {**drawn, "id": "a.z", "verdict": "not run", "estimate": None, "ci90": None, "ci95": None, "why": "w" * 120}
    open_low = {**drawn, "id": "a.w", "low": None, "high": 1.8}
    fig = draw_forest([drawn, closed, blank, open_low], "Title")
    try:
        axes = fig.axes
        assert len(axes) == 4 and fig._suptitle.get_text().startswith("Title: ")
        assert fig._suptitle.get_fontsize() == forest.TITLE_STYLE["fontsize"]
        height = forest.ROW_INCHES * 4 + forest.FRAME_INCHES  # a fixed height a row, whatever the count
        assert tuple(fig.get_size_inches()) == pytest.approx((forest.WIDTH_INCHES, height))
        assert (fig.subplotpars.top, fig.subplotpars.bottom) == pytest.approx((1 - forest.TITLE_INCHES / height, forest.AXIS_INCHES / height))
        assert (fig.subplotpars.left, fig.subplotpars.right, fig.subplotpars.hspace) == pytest.approx(tuple(forest.MARGINS.values()))
        for ax, row in zip(axes, (drawn, closed, blank, open_low)):
            label = ax.texts[0]
            assert label.get_text() == f"{row['id']}  [{row['verdict']}]" and label.get_color() == COLOURS[row["verdict"]]
            assert label.get_transform() == ax.transAxes and label.get_position() == (-0.01, 0.5)
            assert (label.get_ha(), label.get_va(), label.get_fontsize()) == tuple(forest.LABEL_STYLE.values())
            assert ax.get_yticks().size == 0 and all(ax.spines[side].get_visible() is False for side in ("top", "right", "left"))
            assert ax.spines["bottom"].get_visible() == (row["estimate"] is not None)
        lo, hi = _span(drawn)
        assert (lo, hi) == pytest.approx((0.8 - 1.7 * 0.15, 2.5 + 1.7 * 0.15)) and axes[0].get_xlim() == pytest.approx((lo, hi))
        assert axes[0].get_ylim() == (-1, 1)
        for ax, row in zip([*axes[:2], axes[3]], (drawn, closed, open_low)):
            lo, hi = ax.get_xlim()
            (shade,) = ax.patches
            box = shade.get_bbox()
            assert (box.x0, box.x1) == pytest.approx((lo if row["low"] is None else max(row["low"], lo), hi if row["high"] is None else min(row["high"], hi)))
            assert shade.get_facecolor() == pytest.approx(to_rgba("tab:green", forest.REGION_STYLE["alpha"])) and shade.get_linewidth() == 0
            lines = ax.get_lines()
            ends = [l for l in lines if len(set(l.get_xdata())) == 1 and l.get_marker() != "o"]
            assert sorted(l.get_xdata()[0] for l in ends) == [e for e in (row["low"], row["high"]) if e is not None]
            assert all(l.get_color() == "tab:green" and l.get_linewidth() == forest.END_STYLE["lw"] for l in ends)
            assert ax.get_ylim() == (-1, 1)
            span = {tuple(l.get_xdata()): l.get_linewidth() for l in lines if len(set(l.get_xdata())) == 2}
            assert span == {tuple(row["ci95"]): 1, tuple(row["ci90"]): 3}
            assert all(list(l.get_ydata()) == [0, 0] for l in lines if len(set(l.get_xdata())) == 2)  # on the row's axis line
            (dot,) = [l for l in lines if l.get_marker() == "o"]
            assert list(dot.get_xdata()) == [row["estimate"]] and list(dot.get_ydata()) == [0] and dot.get_color() == COLOURS[row["verdict"]]
            assert dot.get_markersize() == forest.DOT_STYLE["ms"]
            assert ax.xaxis.get_major_ticks()[0].label1.get_fontsize() == forest.TICK_STYLE["labelsize"]
            assert all(l.get_color() == COLOURS[row["verdict"]] for l in lines if len(set(l.get_xdata())) == 2)
        why = axes[2].texts[1]
        assert why.get_text() == "w" * 99 + "…" and not axes[2].get_xticks().size and not axes[2].get_lines()
        assert why.get_transform() == axes[2].transAxes and why.get_position() == (0.0, 0.5)
        assert (why.get_ha(), why.get_va(), why.get_fontsize(), why.get_color()) == tuple(forest.REASON_STYLE.values())
    finally:
        plt.close(fig)
    edge = draw_forest([{**blank, "why": "v" * 100}, {**blank, "why": "u" * 101}], "Edge")  # 100 characters whole, 101 cut
    assert [ax.texts[1].get_text() for ax in edge.axes] == ["v" * 100, "u" * 99 + "…"]
    plt.close(edge)
    one = draw_forest([closed], "One")
    assert len(one.axes) == 1 and tuple(one.get_size_inches()) == pytest.approx((forest.WIDTH_INCHES, forest.ROW_INCHES + forest.FRAME_INCHES))
    plt.close(one)
    before = set(plt.get_fignums())
    forest.plot_forest([closed], "Saved", tmp_path / "new" / "folder" / "c.png")  # its folder made; the figure closed
    assert (tmp_path / "new" / "folder" / "c.png").stat().st_size > 0 and set(plt.get_fignums()) == before
    # the saved file is the drawn figure with its title, at DPI: the same bytes as saving draw_forest's figure so
    from io import BytesIO

    from matplotlib.image import imread

    again, buffer = draw_forest([closed], "Saved"), BytesIO()
    again.savefig(buffer, dpi=forest.DPI)
    plt.close(again)
    assert (tmp_path / "new" / "folder" / "c.png").read_bytes() == buffer.getvalue()
    height = forest.ROW_INCHES + forest.FRAME_INCHES
    assert imread(tmp_path / "new" / "folder" / "c.png").shape[:2] == (round(height * forest.DPI), forest.WIDTH_INCHES * forest.DPI)
    assert _span({**drawn, "estimate": 4.0, "ci90": None, "ci95": None, "low": 4.0}) == pytest.approx((3.6, 4.4))
    assert _span({**drawn, "estimate": 0.0, "ci90": None, "ci95": [0.0, 0.0], "low": None, "high": math.inf}) == pytest.approx((-0.1, 0.1))


def test_a_forest_row_draws_the_claims_estimate_intervals_and_region():
    from harness.claims.forest import forest_rows

    claim = {"id": "x", "component": "c", "verdict": "reproduced", "estimate": 1.5, "detail": "",
             "evidence": {"ci90": [1.0, 2.0], "ci95": [0.8, 2.2]}, "region": {"low": 0.5, "high": None}}
    other = {**claim, "id": "y", "component": "d"}
    blank = {**claim, "id": "z", "verdict": "not run", "estimate": None, "evidence": None, "detail": "no results"}
    assert forest_rows([claim, other, blank], "c") == [
        {"id": "x", "verdict": "reproduced", "estimate": 1.5, "ci90": [1.0, 2.0], "ci95": [0.8, 2.2], "low": 0.5, "high": None, "why": None},
        {"id": "z", "verdict": "not run", "estimate": None, "ci90": None, "ci95": None, "low": 0.5, "high": None, "why": "no results"}]
    # an estimate is not enough: an invalid comparison, or one with no region, says why instead (its verdict if nothing else)
    invalid = {**claim, "id": "v", "verdict": "invalid", "detail": "invalid: b did not learn", "region": {"low": 0.0, "high": 2.0}}
    regionless = {**claim, "id": "w", "verdict": "inconclusive", "detail": "", "region": None}
    unrun = {**invalid, "id": "u", "verdict": "not run", "detail": "not run: no eval results for run 'b'"}  # a number beside it or not
    assert forest_rows([invalid, unrun, regionless], "c") == [
        {"id": "v", "verdict": "invalid", "estimate": None, "ci90": None, "ci95": None, "low": 0.0, "high": 2.0, "why": "invalid: b did not learn"},
        {"id": "u", "verdict": "not run", "estimate": None, "ci90": None, "ci95": None, "low": 0.0, "high": 2.0,
         "why": "not run: no eval results for run 'b'"},
        {"id": "w", "verdict": "inconclusive", "estimate": None, "ci90": None, "ci95": None, "low": None, "high": None, "why": "inconclusive"}]


def test_each_component_is_plotted_under_its_title(tmp_path, monkeypatch):
    from harness.claims import forest

    drawn = []
    monkeypatch.setattr(forest, "plot_forest", lambda rows, title, path: drawn.append(([r["id"] for r in rows], title, path)))
    claim = {"id": "x", "component": "c", "verdict": "not run", "estimate": None, "detail": "d", "evidence": None, "region": None}
    status = {"components": [{"component": "c", "title": "The C component"}, {"component": "e", "title": "Empty"}],
              "claims": [claim, {**claim, "id": "y"}]}
    assert forest.plot_components(status, tmp_path) == {"c": "c.png"}  # a component without claims gets no plot
    assert drawn == [(["x", "y"], "The C component", tmp_path / "c.png")]
