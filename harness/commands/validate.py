"""``harness validate [file]``: check a params file and every claim against the schema without running anything;
``harness validate --settings``: print every setting with its type, default and help text (docs/settings.md).

Claims are checked with their references (profiles, runs, paperscale entries and fields that exist), so a
typo in a claim fails here, naming the closest names, instead of reading "not run" in the table forever.
"""

from __future__ import annotations

import dataclasses
import typing
from pathlib import Path

from harness.causal.settings import causal_of
from harness.claims.loading import load_claims
from harness.core.config import (
    DataConfig,
    LoopConfig,
    ModelConfig,
    Params,
    PlantedConfig,
    TruncateConfig,
    TuningConfig,
    load_params,
    read_yaml,
    split_params,
    study_files,
    uninherited,
)
from harness.core.errors import HarnessError
from harness.core.paths import CLAIMS_DIR, PARAMS, PROFILES, STUDIES
from harness.core.schema import described


def validated(params: Params) -> Params:
    """``params`` with every section checked, those too that only their own stages parse (the causal track's):
    what a command checks before it writes or runs anything."""
    causal_of(params)
    missing = uninherited(params)
    if missing:
        raise HarnessError(f"{params.where}: methods.{missing[0]}: missing; every method a run uses needs an entry there ({{}}: none), "
                           "which its runs start from and their stages depend on")
    return params


def load_validated(path: str | Path = "params.yaml") -> Params:
    return validated(load_params(path))


def check_runs_in_one_pipeline(source: Path, root: Path = Path(".")) -> None:
    """Refuse a profile a run of which is named like a study's run. The checkout's params.yaml is the profile, so the
    default pipeline defines every run of its ``train``, while run-profile's ``lay_out`` also hands a run of a study's name to
    that study's params, whose pipeline would then define the same stage outputs (``dvc repro`` stops before anything
    runs). A profile's runs are the default pipeline's: one line naming the key, the study and what to do."""
    raw = read_yaml(source)
    _, studies = split_params(raw, read_yaml(root / PARAMS), study_files(root))
    for study, part in studies.items():
        for run in (part or {}).get("train", {}):
            raise HarnessError(f"{source}: train.{run}: the {study} study's run name ({STUDIES}/{study}/params.yaml); a profile's runs "
                               f"run in the default pipeline, where the study's would define the same stages: name it otherwise")


def settings_reference() -> str:
    """Every setting a params file takes, section by section, with its type, default and help text (the settings
    classes' own ``setting(help=...)``): what ``harness validate --settings`` prints and docs/settings.md holds."""
    from harness.causal.settings import CausalConfig
    from harness.core.registry import CAUSAL_TASKS, METHODS, SOURCES
    from harness.methods.base import MethodSettings

    sections: list[tuple[str, type, set[str]]] = [(key, cls, set()) for key, cls in (
        ("model", ModelConfig), ("data", DataConfig), *((f"data.{n}", SOURCES.get(n).Config) for n in SOURCES.names()),
        ("loop", LoopConfig), ("tuning", TuningConfig), ("methods.<method>, train.<run> (every method)", MethodSettings))]
    common = {f.name for f in dataclasses.fields(MethodSettings)}
    sections += [(f"methods.{n}, train.<run> with method {n}", METHODS.get(n).Config, common) for n in METHODS.names()]
    sections += [("truncate", TruncateConfig, set()), ("planted", PlantedConfig, set())]
    sections += _nested("causal", CausalConfig)
    sections += [(f"causal.data.generated (task {n})", CAUSAL_TASKS.get(n).Generated, set()) for n in CAUSAL_TASKS.names()]
    lines = ["# Settings reference", "", "Written by `harness validate --settings` from the settings classes' help text "
             "(`harness.core.schema.setting`); tests/test_docs.py fails when it differs. Edit the classes, then rerun it.", ""]
    for key, cls, skip in sections:
        rows = [r for r in described(cls) if r[0] not in skip]
        if not rows:
            continue
        lines += [f"## `{key}`", "", "| key | type | default | what it sets |", "|---|---|---|---|"]
        lines += ["| " + " | ".join(cell.replace("|", "\\|") for cell in (f"`{name}`", typ, default if default == "required" else f"`{default}`", help_)) + " |"
                  for name, typ, default, help_ in rows]
        lines.append("")
    return "\n".join(lines)


def _nested(key: str, cls: type) -> list[tuple[str, type, set[str]]]:
    """``cls``'s section and, after it, those of its fields that are settings classes themselves (``causal.data``,
    ``causal.align.runs.<name>``)."""
    out = [(key, cls, set())]
    for name, hint in typing.get_type_hints(cls).items():
        args = [a for a in typing.get_args(hint) if a is not type(None)] or [hint]
        inner = args[0] if len(args) == 1 else None
        if typing.get_origin(hint) is dict:
            inner, name = typing.get_args(hint)[1], f"{name}.<name>"
        if inner is not None and dataclasses.is_dataclass(inner):
            out += _nested(f"{key}.{name}", inner)
    return out


def main(argv: list[str]) -> None:
    if argv[:1] == ["--settings"]:
        print(settings_reference(), end="")
        return
    path = argv[0] if argv else "params.yaml"
    params = load_validated(path)
    if Path(path).resolve().parent == PROFILES.resolve():  # a profile: what run-profile lays out must run
        check_runs_in_one_pipeline(Path(path))
    print(f"{path}: valid (profile {params.profile}, runs {', '.join(params.train)}, seeds {params.seeds})")
    if CLAIMS_DIR.is_dir():  # in the repository (a scratch directory holding only a params file has none)
        claims = load_claims()
        print(f"{CLAIMS_DIR}: {len(claims)} claims valid; every profile, run, entry and field they name exists")
