import json
from pathlib import Path

import numpy as np
import pytest

from harness.core.config import parse_params
from harness.core.errors import HarnessError
from harness.core.provenance import sha256_file
from harness.core.registry import SOURCES
from harness.data.base import LABEL, PAIR, TEXT
from harness.data.synthetic_sentiment import SyntheticSentimentSettings, generate
from harness.stages import prepare
from tests.conftest import dataset_folder


def load(source: str, **opts):
    src = SOURCES.get(source)()
    return src.load(src.Config(**opts), f"data.{source}")


def test_synthetic_is_deterministic_and_leak_free():
    a = load("synthetic_sentiment", n_train=300, n_validation=80, n_eval=100, seed=7)
    b = load("synthetic_sentiment", n_train=300, n_validation=80, n_eval=100, seed=7)
    c = load("synthetic_sentiment", n_train=300, n_validation=80, n_eval=100, seed=8)
    assert prepare.content_hash(a["train"]) == prepare.content_hash(b["train"])
    assert prepare.content_hash(a["train"]) != prepare.content_hash(c["train"])
    texts = {split: set(a[split][TEXT]) for split in ("train", "validation", "test")}
    assert [len(t) for t in texts.values()] == [300, 80, 100]  # no duplicates inside a split either
    assert not texts["train"] & texts["validation"] and not texts["train"] & texts["test"] and not texts["validation"] & texts["test"]
    assert 0.3 < sum(a["train"][LABEL]) / 300 < 0.7


def surface_score(clause: str) -> float:
    """A clause's score read back from its words alone, by the rules the generator documents: one polar word
    or phrase, an intensifier, a near negation, and a wider frame around it. Independent of the generator's
    code paths, so a generator that mislabels (or a rule changed in one place only) fails the test below."""
    from harness.data import synthetic_sentiment as g

    words = f" {clause} "
    frame = 1.0
    for prefixes, weight in ((g.WIDE_NEGATIONS, g.WIDE_NEGATION), (g.ATTRIBUTIONS, g.ATTRIBUTED), (g.IRREALIS, g.HOPED)):
        for prefix in prefixes:
            if clause.startswith(prefix + " "):
                frame, words = weight, f" {clause[len(prefix) + 1:]} "
    polar = {**g.ADJECTIVES, **g.NOUNS, **{v: s for v, (_, s) in g.SPEAKER_VERBS.items()},
             **{b: s for b, s in g.SPEAKER_VERBS.values() if b}}
    found = [(w, s) for w, s in polar.items() if f" {w} " in words]
    found = [(w, s) for w, s in found if not any(w != o and f" {w} " in f" {o} " for o, _ in found)]  # "could not stand" over "not"
    assert len(found) == 1, (clause, found)
    word, strength = found[0]
    scale = [v for k, v in {**g.INTENSIFIERS, **g.VERB_INTENSIFIERS}.items() if k and f" {k} " in words]
    negated = any(f" {n} " in words for n in [*g.NEAR_NEGATIONS, "did not"]) and word != "could not stand"
    return frame * strength * (scale[-1] if scale else 1.0) * (g.NEAR_NEGATION if negated else 1.0)


@pytest.mark.parametrize("p_wide", [0.0, 1.0])
def test_synthetic_labels_follow_negation_and_frames(p_wide):
    """One clause, always negated up close: the label is the sign of the score its words give."""
    ds = generate(SyntheticSentimentSettings(p_negation=1.0, p_wide=p_wide, p_contrast=0.0, max_clauses=1), 300, seed=3)
    for text, label in zip(ds[TEXT], ds[LABEL]):
        assert label == int(surface_score(text.rstrip(".").lower()) > 0), text


def test_synthetic_labels_follow_contrast_and_its_position():
    """Two clauses: "but", "yet", "however" and a leading "although" let the later clause weigh 8x the
    earlier; a trailing "although" / "even if" makes the first clause the main one."""
    from harness.data import synthetic_sentiment as g

    early, late = g.LATER_WINS
    ds = generate(SyntheticSentimentSettings(p_negation=0.3, p_wide=0.3, p_contrast=1.0, max_clauses=2), 400, seed=4)
    seen = set()
    for text, label in zip(ds[TEXT], ds[LABEL]):
        t = text.rstrip(".").lower()
        if t.startswith("although "):
            a, b = t.removeprefix("although ").split(", ", 1)
            weights, form = (early, late), "although-first"
        else:
            for sep, weights in ((", but ", (early, late)), (", yet ", (early, late)), ("; however, ", (early, late)),
                                 (", although ", (late, early)), (", even if ", (late, early))):
                if sep in t:
                    a, b = t.split(sep, 1)
                    form = sep
                    break
            else:
                a = None
        if a is None:
            continue
        seen.add(form)
        assert label == int(weights[0] * surface_score(a) + weights[1] * surface_score(b) > 0), text
    assert len(seen) == 6


def test_local_reads_shared_sst2_as_is(sst2):
    splits = load("local", train=str(sst2 / "train.tsv"), eval=str(sst2 / "dev.tsv"))
    assert (len(splits["train"]), len(splits["test"])) == (67349, 872)
    assert set(splits["test"][LABEL]) == {0, 1}
    # GLUE TSV has no quoting: sentences keep their bare quote characters
    assert any('"' in t or "'" in t for t in splits["train"][TEXT][:2000])
    assert sha256_file(sst2 / "dev.tsv") == "54a9c12c77e402fc14d6a66a506f24d999f596b0176eb777c972cccc2f9cc4b0"


def write_rows(path: Path, header: str, rows: list[str]) -> Path:
    path.write_text("\n".join([header, *rows]) + "\n")
    return path


@pytest.fixture
def tsv(tmp_path):
    train = write_rows(tmp_path / "train.tsv", "sentence\tlabel", ["a fine film\t1", "dull\t0", 'a "quoted" one\t1'])
    dev = write_rows(tmp_path / "dev.tsv", "sentence\tlabel", ["great\t1", "awful\t0"])
    return train, dev


def test_local_formats(tmp_path, tsv):
    train, dev = tsv
    assert load("local", train=str(train), eval=str(dev))["train"][TEXT][2] == 'a "quoted" one'
    csv_train = write_rows(tmp_path / "t.csv", "text,y", ['"a, b",1', "c,0"])
    splits = load("local", train=str(csv_train), eval=str(csv_train), text_column="text", label_column="y")
    assert splits["train"][TEXT] == ["a, b", "c"]
    jl = tmp_path / "t.jsonl"
    jl.write_text("\n".join(json.dumps({"q": t, "l": l}) for t, l in [("x", 0), ("y", 1)]) + "\n")
    assert load("local", train=str(jl), eval=str(jl), text_column="q", label_column="l")["test"][LABEL] == [0, 1]


def test_local_missing_file(tmp_path, tsv):
    with pytest.raises(HarnessError, match=r"^data.local.train: file not found: .*nope.tsv$"):
        load("local", train=str(tmp_path / "nope.tsv"), eval=str(tsv[1]))


def test_local_wrong_column_lists_columns(tsv):
    with pytest.raises(HarnessError) as err:
        load("local", train=str(tsv[0]), eval=str(tsv[1]), text_column="text")
    assert str(err.value).startswith("data.local.text_column: column 'text' not in ")
    assert str(err.value).endswith("columns there: sentence, label")


def test_hub_path_with_local_stand_in(tmp_path):
    """The hub source calls ``datasets.load_dataset(path, name)``: a local dataset folder goes the same way."""
    root = tmp_path / "stand_in"
    root.mkdir()
    write_rows(root / "train.csv", "sentence,label", ["good,1", "bad,0"])
    write_rows(root / "validation.csv", "sentence,label", ["fine,1"])
    splits = load("hub", path=str(root), name=None)
    assert splits["train"][TEXT] == ["good", "bad"] and splits["test"][LABEL] == [1]
    with pytest.raises(HarnessError, match="eval_split: no split 'dev'"):
        load("hub", path=str(root), name=None, eval_split="dev")


def test_hub_source_reads_the_named_config_and_its_pair_column(tmp_path):
    """A dataset folder with two configs, as a hub repository declares them in its card: the source reads the one
    ``name`` names, maps its pair column, and a missing column or split names the key, the dataset and its split."""
    row = lambda q, a, label: {"question": q, "answer": a, "label": label}
    root = Path(dataset_folder(tmp_path / "two_configs", {
        "first": {"train": [row("q1", "a1", 0)], "dev": [row("q2", "a2", 1)]},
        "second": {"train": [row("q3", "a3", 1), row("q4", "a4", 0)], "dev": [row("q5", "a5", 0)]}}))
    opts = dict(path=str(root), name="second", eval_split="dev", text_column="question", text_pair_column="answer")
    splits = load("hub", **opts)
    assert splits["train"][TEXT] == ["q3", "q4"] and splits["train"][PAIR] == ["a3", "a4"] and splits["test"][LABEL] == [0]
    with pytest.raises(HarnessError, match=rf"^data.hub.text_pair_column: column 'reply' not in {root} split train; columns there: question, answer, label$"):
        load("hub", **{**opts, "text_pair_column": "reply"})
    with pytest.raises(HarnessError, match=rf"^data.hub.train_split: no split 'training' in {root}; splits: train, dev$"):
        load("hub", **{**opts, "train_split": "training"})


def test_hub_source_passes_path_config_and_revision_to_datasets(monkeypatch):
    """The source asks ``datasets.load_dataset`` for the configured repository, config and revision (a pinned
    commit is how a hub dataset is made reproducible); a failed load is one line naming the key and the dataset."""
    from datasets import Dataset, DatasetDict

    from harness.data import hub

    calls = []

    def fake(path, name=None, **kwargs):
        calls.append((path, name, kwargs))
        if path == "gone/missing":
            raise FileNotFoundError("Dataset 'gone/missing' doesn't exist on the Hub\nor cannot be accessed")
        rows = Dataset.from_dict({"sentence": ["x"], "label": [1]})
        return DatasetDict({"train": rows, "validation": rows})

    monkeypatch.setattr(hub, "load_dataset", fake)
    load("hub", path="org/glue", name="sst2", revision="abc123")
    assert calls == [("org/glue", "sst2", {"revision": "abc123"})]
    with pytest.raises(HarnessError, match=r"^data.hub.path: could not load dataset 'gone/missing' \(sst2\): Dataset 'gone/missing' "
                                           r"doesn't exist on the Hub \(needs network for hub names\)$"):
        load("hub", path="gone/missing", name="sst2")


def local_params(tiny_raw, train, dev):
    tiny_raw["data"]["source"] = "local"
    tiny_raw["data"]["local"].update(train=str(train), eval=str(dev))
    return parse_params(tiny_raw)


def assert_no_outputs(root: Path):
    assert not (root / "data" / "prepared").exists()
    assert not (root / "results" / "prepare.json").exists()
    assert not [p for p in root.rglob(".*") if p.name.startswith(".prepared")]


def test_prepare_rejects_labels_outside_set(workspace, tiny_raw, tsv):
    bad = write_rows(workspace / "bad.tsv", "sentence\tlabel", ["ok\t1", "odd\t2"])
    with pytest.raises(HarnessError, match=r"data.labels: train row 1 has label 2, outside the declared labels \[0, 1\]"):
        prepare.run(local_params(tiny_raw, bad, tsv[1]))
    assert_no_outputs(workspace)


def test_prepare_rejects_empty_split(workspace, tiny_raw, tsv):
    empty = write_rows(workspace / "empty.tsv", "sentence\tlabel", [])
    with pytest.raises(HarnessError, match=r"^params.yaml: data.local.eval: .*empty.tsv has no data rows"):
        prepare.run(local_params(tiny_raw, tsv[0], empty))
    assert_no_outputs(workspace)


def test_prepare_writes_hashes_and_subsets(workspace, tiny_raw, sst2):
    tiny_raw["data"].update(train_size=500, eval_size=100)
    summary = prepare.run(local_params(tiny_raw, sst2 / "train.tsv", sst2 / "dev.tsv"))
    assert summary["sizes"] == {"train": 500, "validation": 24, "test": 100}
    assert summary["validation_from"] == "carved from train (24 examples, seed 0)"
    assert summary["file_sha256"][str(sst2 / "train.tsv")] == "48eac26399f8456935f81dd9e3a745c1430adb6c62e233ccfe22db4a0d15d1d1"
    again = prepare.run(local_params(tiny_raw, sst2 / "train.tsv", sst2 / "dev.tsv"))
    assert again["content_sha256"] == summary["content_sha256"]
    assert (workspace / "data" / "prepared" / "splits").is_dir()


def test_prepare_maps_declared_labels_to_class_indices(workspace, tiny_raw):
    from datasets import load_from_disk

    rows = ["good\t7", "bad\t3", "fine\t7"]
    train = write_rows(workspace / "t.tsv", "sentence\tlabel", rows)
    tiny_raw["data"].update(labels=[3, 7], validation_size=1)
    prepare.run(local_params(tiny_raw, train, train))
    assert load_from_disk(str(workspace / "data" / "prepared" / "splits"))["test"]["labels"] == [1, 0, 1]


# --- GLUE files as they ship: label names, no header row, sentence pairs (fixtures in each task's format) ---


def glue_params(tiny_raw, train, dev, labels, **local):
    tiny_raw["data"].update(source="local", labels=labels, validation_size=2)
    tiny_raw["data"]["local"] = {"train": str(train), "eval": str(dev), **local}
    return parse_params(tiny_raw)


def test_rte_format_with_label_names_prepares_with_the_mapping_recorded(workspace, tiny_raw):
    """RTE / MNLI / QNLI / WNLI label with names; the class id of a name is its position in data.labels."""
    header = "index\tsentence1\tsentence2\tlabel"
    rows = [f"{i}\tA man sleeps {i}.\tSomeone sleeps {i}.\t{'entailment' if i % 2 else 'not_entailment'}" for i in range(8)]
    train = write_rows(workspace / "rte_train.tsv", header, rows)
    dev = write_rows(workspace / "rte_dev.tsv", header, rows[:4])
    params = glue_params(tiny_raw, train, dev, ["not_entailment", "entailment"], text_column="sentence1", text_pair_column="sentence2")
    summary = prepare.run(params)
    assert summary["label_ids"] == {"not_entailment": 0, "entailment": 1}
    assert summary["label_counts"]["test"] == {"entailment": 2, "not_entailment": 2}
    from harness.stages.common import load_prepared

    splits, tokenizer = load_prepared()
    assert sorted(set(splits["test"]["labels"])) == [0, 1]
    pairs = sorted(tokenizer.decode(ids, skip_special_tokens=True) for ids in splits["test"]["input_ids"])
    assert pairs == [f"a man sleeps {i}. someone sleeps {i}." for i in range(4)]  # both sentences of each pair, in order
    with pytest.raises(HarnessError, match=r"train row 0 has label 'not_entailment', outside the declared labels \['contradiction', 'entailment'\]"):
        prepare.run(glue_params(tiny_raw, train, dev, ["contradiction", "entailment"], text_column="sentence1", text_pair_column="sentence2"))


def test_headerless_mrpc_format_reads_columns_by_position(workspace, tiny_raw):
    """Public MRPC / QQP / CoLA copies without a header row: ``header: false``, columns "0", "1", ..."""
    rows = [f"{i % 2}\t{100 + i}\t{200 + i}\tThe cat sat {i}.\tA cat was sitting {i}." for i in range(8)]
    train = write_rows(workspace / "mrpc_train.tsv", rows[0], rows[1:])  # the first row is data, not a header
    dev = write_rows(workspace / "mrpc_dev.tsv", rows[4], rows[5:])
    summary = prepare.run(glue_params(tiny_raw, train, dev, [0, 1], header=False, text_column=3, text_pair_column="4", label_column=0))
    assert summary["sizes"] == {"train": 6, "validation": 2, "test": 4}
    assert "label_ids" not in summary  # integer labels are their own ids


def test_a_headerless_file_read_with_a_header_says_so(workspace, tiny_raw):
    rows = [f"sentence number {i}\t{i % 2}" for i in range(6)]  # CoLA as ../shared/data/glue ships it
    train = write_rows(workspace / "cola_train.tsv", rows[0], rows[1:])
    dev = write_rows(workspace / "cola_dev.tsv", rows[2], rows[3:])
    # each file's first row becomes its header, and the two differ: the cause, then the likely fix
    with pytest.raises(HarnessError, match=r"could not read tsv files .*: Couldn't cast \.\.\. because column names don't match \(a file without a header row needs header: false\)$"):
        prepare.run(glue_params(tiny_raw, train, dev, [0, 1]))
    assert_no_outputs(workspace)
    same_first_row = write_rows(workspace / "cola_dev2.tsv", rows[0], rows[3:])
    with pytest.raises(HarnessError, match=r"data.local.text_column: column 'sentence' not in .*cola_train.tsv; columns there: sentence number 0, 0 \(a file without a header row needs header: false\)$"):
        prepare.run(glue_params(tiny_raw, train, same_first_row, [0, 1]))
    assert_no_outputs(workspace)
    with pytest.raises(HarnessError, match="data.local.header: false applies to tsv and csv files"):
        prepare.run(glue_params(tiny_raw, workspace / "x.jsonl", workspace / "y.jsonl", [0, 1], header=False))


def test_stsb_format_regression_prepares_scores_and_trains_a_one_output_head(workspace, tiny_raw):
    """STS-B's score (0-5, floats) is a regression target: one output, MSE, scored by correlation."""
    from harness.core.registry import METHODS
    from harness.engine.fit_seed import fit_seed
    from harness.engine.inference import predict, score
    from harness.stages.common import load_prepared

    header = "index\tgenre\tsentence1\tsentence2\tscore"
    rows = [f"{i}\tmain\tA dog runs {i}.\tA dog is running {i}.\t{(i * 7 % 11) / 2:.3f}" for i in range(40)]
    train = write_rows(workspace / "stsb_train.tsv", header, rows[:30])
    dev = write_rows(workspace / "stsb_dev.tsv", header, rows[30:])
    tiny_raw["data"]["metrics"] = ["pearson", "spearman"]
    tiny_raw["data"]["task"] = "regression"
    params = glue_params(tiny_raw, train, dev, [0, 1], text_column="sentence1", text_pair_column="sentence2", label_column="score")
    summary = prepare.run(params)
    assert summary["task"] == "regression" and summary["majority_class_test_accuracy"] is None
    assert summary["label_stats"]["test"]["max"] <= 5.0 and "label_counts" not in summary
    splits, tokenizer = load_prepared()
    assert splits["test"].features["labels"].dtype == "float32" and splits["train"].features["labels"].dtype == "float32"
    # the model learns standardised training targets (the map is recorded); validation and test keep the scores
    scaling, stats_train = summary["train_target_scaling"], summary["label_stats"]["train"]
    y = np.array(splits["train"]["labels"], dtype=np.float64)
    assert y.mean() == pytest.approx(0, abs=1e-6) and y.std() == pytest.approx(1, rel=1e-5)
    back = scaling["mean"] + scaling["std"] * y  # read back as scores: the training split's own
    assert (back.min(), back.mean(), back.max()) == pytest.approx((stats_train["min"], stats_train["mean"], stats_train["max"]), abs=1e-4)
    raw = {round((i * 7 % 11) / 2, 3) for i in range(40)}
    assert {round(v, 3) for s in ("validation", "test") for v in splits[s]["labels"]} <= raw
    method, cfg = METHODS.get("lora")(), params.train["lora"]
    model, stats = fit_seed(params, "lora", method, cfg, 0, splits, tokenizer, track=False)
    assert model.config.num_labels == 1 and stats.final_loss > 0
    preds, labels, _ = predict(model, splits["test"], tokenizer, 8, __import__("torch").device("cpu"))
    assert preds.dtype.kind == "f" and len(preds) == len(labels) == 10
    assert set(score(preds, labels, ["pearson", "spearman"])) == {"pearson", "spearman"}


def test_regression_with_one_training_score_has_nothing_to_fit(workspace, tiny_raw):
    rows = [f"{i}\tmain\tA dog runs {i}.\tA dog is running {i}.\t3.0" for i in range(40)]
    header = "index\tgenre\tsentence1\tsentence2\tscore"
    train, dev = write_rows(workspace / "t.tsv", header, rows[:30]), write_rows(workspace / "d.tsv", header, rows[30:])
    tiny_raw["data"].update(task="regression", metrics=["pearson"])
    params = glue_params(tiny_raw, train, dev, [0, 1], text_column="sentence1", text_pair_column="sentence2", label_column="score")
    with pytest.raises(HarnessError, match="data.task: regression: every training score is the same; nothing to fit"):
        prepare.run(params)
    assert_no_outputs(workspace)


def test_regression_refuses_class_metrics_and_text_labels(workspace, tiny_raw):
    tiny_raw["data"].update(task="regression", metrics=["accuracy"])
    with pytest.raises(HarnessError, match="data.metrics: 'accuracy' compares classes; a regression task is scored by: mean_correlation, pearson, spearman"):
        parse_params(tiny_raw)
    rows = ["a\tb\thigh", "c\td\tlow", "e\tf\thigh"]
    train = write_rows(workspace / "t.tsv", "sentence1\tsentence2\tscore", rows)
    tiny_raw["data"]["metrics"] = ["pearson"]
    with pytest.raises(HarnessError, match=r"data.task: regression: train row 0 has label 'high', not a finite number"):
        prepare.run(glue_params(tiny_raw, train, train, [0, 1], text_column="sentence1", text_pair_column="sentence2", label_column="score"))


def test_a_read_error_is_named_by_its_innermost_cause():
    """``datasets`` wraps a parser's error in one that names no cause: the message is the innermost error's first
    and last lines, or its one line, or its type when it has no text."""
    from harness.data.local import cause

    def chained(inner: BaseException) -> BaseException:
        try:
            try:
                raise inner
            except BaseException as err:
                raise RuntimeError("An error occurred while generating the dataset") from err
        except RuntimeError as outer:
            return outer

    assert cause(chained(ValueError("Couldn't cast\n  sentence: string\nbecause column names don't match"))) == \
        "Couldn't cast ... because column names don't match"
    assert cause(chained(ValueError("one line"))) == "one line"
    assert cause(chained(KeyError())) == "KeyError"
    assert cause(ValueError("\n  alone  \n")) == "alone"


def test_the_first_row_names_the_columns_as_written(tmp_path):
    """The header (or headerless first example) is the first non-blank line, split on the separator only (spaces stay
    inside a field), its line ending dropped but a trailing empty field kept; bytes that are not UTF-8 are replaced,
    not fatal; an empty file has one unnamed column."""
    from harness.data.local import first_row

    path = tmp_path / "f.tsv"
    path.write_bytes("\n  \nthe sentence, é\tlabel\t\r\nx\ty\n".encode())
    assert first_row(str(path), "\t") == ["the sentence, é", "label", ""]
    path.write_bytes(b"caf\xe9\tb\n")
    assert first_row(str(path), "\t") == ["caf\ufffd", "b"]
    path.write_bytes(b"")
    assert first_row(str(path), ",") == [""]
    path.write_bytes(b"ID\tTEXT\tINDEX\r\n")  # only the line ending goes: a name's own last letters stay
    assert first_row(str(path), "\t") == ["ID", "TEXT", "INDEX"]


def test_the_local_source_reads_every_text_verbatim_and_names_what_it_cannot_read(tmp_path):
    """Texts pandas would reinterpret stay as written (a quote opening a TSV field, "NA" and "null", commas inside a
    TSV field); a one-row JSON-lines file has its row (JSON lines have no header); the errors name the setting and the
    files, and a headerless file's parse error carries no header hint (it is read with header: false already)."""
    from harness.data.local import has_rows

    texts = ['"quoted, and never closed', "NA", "null", "one, two, three"]
    rows = [f"{t}\t{i % 2}" for i, t in enumerate(texts)]
    train = write_rows(tmp_path / "train.tsv", "sentence\tlabel", rows)
    splits = load("local", train=str(train), eval=str(train))
    assert list(splits["train"][TEXT]) == texts and list(splits["test"][LABEL]) == [0, 1, 0, 1]
    # a column name holding a comma: the separator is the format's, never guessed
    named = write_rows(tmp_path / "named.tsv", "sentence, cased\tlabel", rows)
    assert list(load("local", train=str(named), eval=str(named), text_column="sentence, cased")["train"][TEXT]) == texts
    one = tmp_path / "one.jsonl"
    one.write_text('{"sentence": "alone", "label": 1}\n')
    assert list(load("local", train=str(one), eval=str(one))["train"][TEXT]) == ["alone"]
    with pytest.raises(HarnessError, match=r"^data\.local\.format: cannot tell the format of .*train\.txt from its suffix; set one of: tsv, csv, jsonl$"):
        load("local", train=str(tmp_path / "train.txt"), eval=str(train))
    with pytest.raises(HarnessError, match=r"^data\.local\.format: train and eval files differ in format \(jsonl, tsv\); set format$"):
        load("local", train=str(train), eval=str(one))
    ragged = tmp_path / "ragged.tsv"
    ragged.write_text("0\tfirst sentence\n1\tsecond sentence\textra field\n")
    with pytest.raises(HarnessError, match=r"^data\.local: could not read tsv files .*ragged\.tsv, .*ragged\.tsv: Error tokenizing data\. "
                                           r"C error: Expected 2 fields in line 2, saw 3$"):
        load("local", train=str(ragged), eval=str(ragged), header=False, text_column=1, label_column=0)
    broken = tmp_path / "broken.jsonl"
    broken.write_text('7\n{"sentence": "b", "label": \n')  # its first line a number, as a headerless file's would be
    with pytest.raises(HarnessError, match=r"^data\.local: could not read jsonl files .*broken\.jsonl, .*broken\.jsonl: [^()]*$"):
        load("local", train=str(broken), eval=str(broken))
    first, second = tmp_path / "cola_a.csv", tmp_path / "cola_b.csv"  # headerless CSVs read as if they had a header
    first.write_text("0,first sentence here\n1,second sentence\n")
    second.write_text("1,another one\n0,and more\n")
    with pytest.raises(HarnessError, match=r"could not read csv files .*: Couldn't cast \.\.\. because column names don't match "
                                           r"\(a file without a header row needs header: false\)$"):
        load("local", train=str(first), eval=str(second))
    latin = tmp_path / "latin.tsv"
    latin.write_bytes(b"caf\xe9\t1\n")
    assert has_rows(str(latin), header=False) and not has_rows(str(latin), header=True)
    (tmp_path / "empty.tsv").write_text("\n \n")
    assert not has_rows(str(tmp_path / "empty.tsv"), header=True)
