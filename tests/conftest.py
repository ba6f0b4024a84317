"""Tests shrink the project's real params.yaml (tiny sizes, a tmp_path workspace) instead of inventing configs."""

from __future__ import annotations

import copy
import json
import os
from pathlib import Path

import pytest
import yaml

# Tests never touch the network: a hub lookup that cannot connect retries for ~20 s before failing.
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")
os.environ.setdefault("TOKENIZERS_PARALLELISM", "false")

ROOT = Path(__file__).resolve().parents[1]
SST2 = ROOT.parent / "shared" / "data" / "glue" / "SST-2"


def pytest_collection_modifyitems(config, items):
    """Under mutmut (its tests run from mutants/, beside its mutmut-stats.json), fastest test first: mutmut runs a
    mutant's covering tests with -x in an arbitrary order, so a mutant one quick test kills would otherwise often wait
    on the slow ones first. Outside mutmut the order is pytest's own."""
    stats = Path(config.rootpath, "mutmut-stats.json")
    if not os.environ.get("MUTANT_UNDER_TEST", "").startswith("harness.") or not stats.is_file():
        return
    duration = json.loads(stats.read_text()).get("duration_by_test", {})
    items.sort(key=lambda item: duration.get(item.nodeid, float("inf")))


@pytest.fixture(scope="session")
def repo_params() -> dict:
    """The project's params with every study's merged in (as the stages see them), as one file: a test workspace
    holds no studies/ folder."""
    from harness.core.config import read_yaml, with_studies

    raw = with_studies(read_yaml(ROOT / "params.yaml"), ROOT / "params.yaml")
    raw.pop("studies", None)
    return raw


def shrink(raw: dict) -> dict:
    """The real config at toy size: one seed, 96 generated examples, a few steps."""
    raw = copy.deepcopy(raw)
    raw["seeds"] = [0]
    for run in raw["train"].values():
        run.pop("seeds", None)
    raw["model"]["max_length"] = 32
    raw["data"]["synthetic_sentiment"].update(n_train=96, n_validation=24, n_eval=32)
    raw["data"]["validation_size"] = 24
    raw["tuning"]["factors"] = [1.0]  # one grid point: the tune stage's own tests widen it
    raw["data"]["local"].update(train=str(SST2 / "train.tsv"), eval=str(SST2 / "dev.tsv"))
    raw["loop"].update(max_steps=6, batch_size=8, eval_batch_size=16)
    raw["loop"].update(track_every=3, track_examples=16, latency_batch=4, latency_repeats=2)
    for run in [*raw["train"].values(), raw["planted"]["student"]]:
        if run.get("track_every"):
            run["track_every"] = 3
        if run["method"] == "adalora":  # 4 -> 2; a fixed-budget run stays at 2
            run.update(init_r=4 if run.get("allocate", True) else 2, target_r=2, deltaT=1)
    raw["planted"].update(seeds=[0], n_train=64, n_eval=32, steps=6, budgets=[1, 2, 4])
    shrink_causal(raw["causal"])
    return raw


def shrink_causal(causal: dict) -> None:
    """The causal track at toy size: a 2-layer stand-in, a dozen MRs, a few steps, beam 2, two DPO steps, three
    changed facts."""
    causal["max_length"] = 128
    causal["standin"].update(n_layer=2, n_embd=32, n_head=2, n_positions=128, vocab_size=300, corpus_size=300,
                             pretrain_steps=20, pretrain_batch_size=8)
    causal["data"]["generated"].update(n_train_mrs=12, n_test_mrs=3, references=2)
    causal["loop"].update(max_steps=4, batch_size=4)
    causal["decoding"].update(num_beams=2, max_new_tokens=8)
    causal.update(icl_shots=1, eval_batch_size=4)
    for run in causal["runs"].values():
        run.pop("seeds", None)
        if run["method"] == "adalora":
            run.update(init_r=4, target_r=2, deltaT=1)
    causal["align"].update(dpo_steps=2, dpo_batch_size=4, max_new_tokens=8)
    for run in causal["align"]["runs"].values():
        run.pop("seeds", None)
    causal["knowledge"].update(changed=3, references=1, max_new_tokens=8)
    for arm in causal["knowledge"]["arms"].values():
        arm.pop("seeds", None)


@pytest.fixture
def tiny_raw(repo_params) -> dict:
    return shrink(repo_params)


@pytest.fixture
def workspace(tmp_path, monkeypatch, tiny_raw):
    """A scratch project directory holding a shrunk params.yaml; stages write under it."""
    monkeypatch.chdir(tmp_path)
    write_params(tmp_path, tiny_raw)
    return tmp_path


@pytest.fixture
def prepared(workspace, tiny_raw):
    """The shrunk config's data, prepared in the workspace: (splits, tokenizer)."""
    from harness.core.config import parse_params
    from harness.stages import prepare
    from harness.stages.common import load_prepared

    prepare.run(parse_params(tiny_raw))
    return load_prepared()


def write_project_params(where: Path, raw: dict) -> None:
    """``raw`` (a merged params dict, as repo_params gives it) written as the project lays it out: what each study
    adds in ``studies/<name>/params.yaml``, the rest in ``params.yaml`` with the ``studies`` list."""
    from harness.core.config import read_yaml, split_params, study_files

    root, studies = split_params(raw, read_yaml(ROOT / "params.yaml"), study_files(ROOT))
    write_params(where, root)
    for study, mine in studies.items():
        (where / "studies" / study).mkdir(parents=True, exist_ok=True)
        (where / "studies" / study / "params.yaml").write_text(yaml.safe_dump(mine or {}, sort_keys=False))


def write_params(where: Path, raw: dict) -> Path:
    path = where / "params.yaml"
    path.write_text(yaml.safe_dump(raw, sort_keys=False))
    return path


@pytest.fixture
def sst2() -> Path:
    if not SST2.is_dir():
        pytest.skip(f"shared SST-2 data not found at {SST2} (it sits beside the repo on project machines)")
    return SST2




def set_runs(raw: dict, runs: dict) -> dict:
    """Keep only ``runs`` under train (and in truncate.runs, which must name existing runs)."""
    raw["train"] = runs
    raw["truncate"] = {"runs": [r for r in raw.get("truncate", {}).get("runs", []) if r in runs]}
    sweep = {name: [r for r in members if r in runs] for name, members in raw.get("sweep", {}).items()}
    raw["sweep"] = {name: members for name, members in sweep.items() if members}
    return raw


# A published architecture at toy size: the same model type and module names, two layers, small width.
SHRINK = {"num_hidden_layers": 2, "n_layer": 2, "hidden_size": 32, "n_embd": 32, "num_attention_heads": 2, "n_head": 2,
          "intermediate_size": 64, "vocab_size": 128, "max_position_embeddings": 64, "n_positions": 64, "position_buckets": 16}


def shrunk_architecture(arch: dict) -> dict:
    """``arch`` (an entry of experiments/paperscale.yaml's architectures) with its sizes replaced by SHRINK's."""
    return {k: SHRINK.get(k, v) for k, v in arch.items()}


def paperscale_spec() -> dict:
    """experiments/paperscale.yaml: the published architectures and the entries the paperscale stage counts."""
    return yaml.safe_load((ROOT / "experiments" / "paperscale.yaml").read_text())


def dataset_folder(folder: Path, configs: dict[str, dict[str, list[dict]]]) -> str:
    """A local folder ``datasets.load_dataset(folder, config)`` reads as a hub repository: per config, one JSONL file per
    split under the config's name, declared in the dataset card's ``configs`` as the hub's own repositories declare theirs."""
    card = []
    for config, splits in configs.items():
        files = []
        for split, rows in splits.items():
            path = folder / config / f"{split}.jsonl"
            path.parent.mkdir(parents=True, exist_ok=True)
            path.write_text("".join(json.dumps(r) + "\n" for r in rows))
            files.append({"split": split, "path": f"{config}/{split}.jsonl"})
        card.append({"config_name": config, "data_files": files})
    (folder / "README.md").write_text("---\n" + yaml.safe_dump({"configs": card}, sort_keys=False) + "---\n")
    return str(folder)

