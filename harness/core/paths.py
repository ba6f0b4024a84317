"""Every path the pipeline reads or writes, named once. ``dvc.yaml`` declares the same paths as its stages'
deps and outs (DVC needs them spelled out); tests/test_architecture.py checks that each output here is one it declares."""

from __future__ import annotations

from pathlib import Path

# Inputs: what a person edits.
PARAMS = Path("params.yaml")
# Studies: each a pipeline of its own beside the default, in studies/<name>/ (dvc.yaml, params.yaml, dvc.lock)
STUDIES = Path("studies")
EXPERIMENTS = Path("experiments")
CLAIMS_DIR = EXPERIMENTS / "claims"
COMPONENTS = EXPERIMENTS / "components.yaml"
EXPECTED_VERDICTS = EXPERIMENTS / "expected_verdicts.yaml"
ATLAS_SPEC = EXPERIMENTS / "atlas.yaml"
PAPERSCALE_SPEC = EXPERIMENTS / "paperscale.yaml"
TASK_CHECKS = EXPERIMENTS / "task_checks.yaml"
PROFILES = EXPERIMENTS / "profiles"

# Large outputs (DVC cache).
PREPARED = Path("data/prepared")
# its layout (prepare writes a temporary folder first, so these are relative to it)
SPLITS_DIR, TOKENIZER_DIR, META_FILE = "splits", "tokenizer", "meta.json"
CAUSAL_DATA = Path("data/causal")
MODELS = Path("models")
CAUSAL_BASE = MODELS / "causal" / "base"
# Training checkpoints of runs in progress (loop.checkpoint_every): neither an output nor committed; a run
# that finishes removes its own, a killed one resumes from its last (harness/engine/fit_seed.py names them).
CHECKPOINTS = Path("checkpoints")
# Live training curves for the trackers of loop.report_to, one folder per stage, run and seed (or lr); not
# outputs. TensorBoard's (its convention, git-ignored) and DVCLive's (each with a dvc.yaml: DVC reads a dvc.yaml
# only where git does not ignore it, so `dvc plots show` finds the curves; commit them or not).
TENSORBOARD_LOGS = Path("runs")
DVCLIVE_LOGS = Path("dvclive")

# Results (committed to git).
RESULTS = Path("results")
PREPARE_SUMMARY = RESULTS / "prepare.json"
PAPERSCALE = RESULTS / "paperscale.json"
ATLAS = RESULTS / "atlas.json"
ATLAS_MD = RESULTS / "atlas.md"
ATLAS_PLOTS = RESULTS / "atlas_plots"
STATUS = RESULTS / "status.json"
STATUS_MD = RESULTS / "status.md"
HEADLINE = RESULTS / "headline.json"  # the one DVC metrics file (harness/report/headline.py)
PROFILE_RESULTS = RESULTS / "profiles"  # other profiles' results, one folder each (harness run-profile)
PROFILE_PARAMS, PROFILE_RUN = "params.yaml", "run.json"  # in each: the params it ran with, how and when it ran
PAPER_TABLES = RESULTS / "tables"  # the papers' tables, printed cell beside ours (harness/claims/tables.py)
PLOTS = RESULTS / "plots"
RANK_MAPS = RESULTS / "rankmaps"
RANK_MAP_IMAGES = RESULTS / "rankmap_images"
CURVES = RESULTS / "curves"
PLANTED_TUNING = RESULTS / "planted" / "tuning.json"
PLANTED_SST2 = RESULTS / "reference" / "sst2" / "planted"  # the benchmark rerun on SST-2 inputs (README there)
CAUSAL_DATA_SUMMARY = RESULTS / "causal" / "data.json"
CAUSAL_BASE_SUMMARY = RESULTS / "causal" / "base.json"

# One JSON per run (or planted task) and stage: <results>/<folder>/<name>.json.
RESULT_FOLDERS = {"tune": "tune", "train": "train", "eval": "eval", "truncate": "truncate", "planted": "planted",
                  "causal_train": "causal/train", "causal_eval": "causal/eval", "causal_align": "causal/align",
                  "causal_knowledge": "causal/knowledge"}


def result_file(kind: str, name: str, results: Path = RESULTS) -> Path:
    """The result file stage ``kind`` writes for run (or planted task) ``name``; ``results`` moves the tree
    (tests, a profile's own results)."""
    return results / RESULT_FOLDERS[kind] / f"{name}.json"


def curves_dir(run: str) -> Path:
    """A classification run's loss and validation curves, one DVCLive folder per ``seed_subdir``."""
    return CURVES / run


def model_dir(run: str) -> Path:
    """A classification run's trained models, one ``seed_subdir`` per seed (one DVC output per run)."""
    return MODELS / run


def causal_model_dir(run: str) -> Path:
    return MODELS / "causal" / run


def causal_align_dir(run: str) -> Path:
    """An SFT-then-DPO run's models: ``seed_<s>/sft`` and ``seed_<s>/dpo`` (one DVC output per run)."""
    return MODELS / "causal_align" / run


def seed_subdir(seed: int) -> str:
    return f"seed_{seed}"


def seed_model_dir(run: str, seed: int) -> Path:
    return model_dir(run) / seed_subdir(seed)
