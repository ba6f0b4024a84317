"""The validation every settings class shares: strict keys, the numeric types, and one-line errors that
name the key and what is allowed. A leaf (imports nothing of the harness but its errors), so a method, a
data source or a claim kind declares its settings class without importing the config loader."""

from __future__ import annotations

import dataclasses
import json
import types
import typing
from collections.abc import Callable
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from harness.core.errors import HarnessError

STRICT = ConfigDict(extra="forbid")
_REQUIRED: Any = dataclasses.MISSING
PositiveInt = typing.Annotated[int, Field(gt=0)]
NonNegInt = typing.Annotated[int, Field(ge=0)]
NonNegFloat = typing.Annotated[float, Field(ge=0)]


def _format_error(where: str, err: ValidationError, cls: type | None) -> str:
    first = err.errors()[0]
    loc = ".".join(str(p) for p in first["loc"])
    key = f"{where}.{loc}" if loc else where
    if first["type"] in ("extra_forbidden", "unexpected_keyword_argument") and cls is not None:
        allowed = ", ".join(_allowed_keys(cls, first["loc"][:-1]))
        return f"{key}: unknown key; allowed: {allowed}"
    if first["type"] == "missing":
        return f"{key}: required key is missing"
    msg = first["msg"].removeprefix("Value error, ")
    got = first.get("input")
    shown = "" if isinstance(got, dict) else f" (got {got!r})"
    return f"{key}: {msg}{shown}"


def _allowed_keys(cls: type, loc: tuple) -> list[str]:
    for part in loc:
        if not dataclasses.is_dataclass(cls):
            break
        hint = typing.get_type_hints(cls).get(str(part))
        cls = typing.get_args(hint)[0] if typing.get_origin(hint) is typing.Annotated else hint
    return [f.name for f in dataclasses.fields(cls)] if dataclasses.is_dataclass(cls) else []


def validate(cls: type, raw: Any, where: str) -> Any:
    """Validate ``raw`` into ``cls``; raise a one-line :class:`HarnessError` naming the key on failure."""
    if raw is None:
        raw = {}
    if not isinstance(raw, dict):
        raise HarnessError(f"{where}: expected a mapping, got {type(raw).__name__}")
    try:
        return TypeAdapter(cls).validate_python(raw)
    except ValidationError as err:
        raise HarnessError(_format_error(where, err, cls)) from None


def setting(default: Any = _REQUIRED, *, help: str, factory: Callable[[], Any] | None = None) -> Any:
    """A settings field that carries its help text as data (peft's ``field(metadata={"help": ...})``): ``harness
    validate --settings`` prints it, and docs/settings.md holds what it prints. ``factory`` makes a mutable default; neither: required."""
    if factory is not None:
        return dataclasses.field(default_factory=factory, metadata={"help": help})
    return dataclasses.field(default=default, metadata={"help": help})


def described(cls: type) -> list[tuple[str, str, str, str]]:
    """Each field of the settings class ``cls`` as (key, type, default as YAML writes it, help): the reference that ``harness validate
    --settings`` prints (docs/settings.md). A field without help text is a defect (tests/test_docs.py)."""
    hints = typing.get_type_hints(cls, include_extras=True)
    rows = []
    for f in dataclasses.fields(cls):
        if "internal" in f.metadata:
            continue
        if f.default is not dataclasses.MISSING:
            default = _shown(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            default = _shown(f.default_factory())
        else:
            default = "required"
        rows.append((f.name, _type_name(hints[f.name]), default, f.metadata.get("help", "")))
    return rows


def _shown(value: Any) -> str:
    """A default as params.yaml writes it (``true``, ``null``, ``[0, 1]``); a settings class as ``{...}``."""
    try:
        return json.dumps(value)
    except TypeError:
        return "{...}" if dataclasses.is_dataclass(value) else repr(value)


def _type_name(hint: Any) -> str:
    """A type as a reader of params.yaml thinks of it: ``int > 0``, ``list[float > 0]``, ``one of 'a', 'b'``."""
    origin, args = typing.get_origin(hint), typing.get_args(hint)
    if origin is typing.Annotated:
        bounds = [f"{op} {getattr(m, attr)}" for m in getattr(args[1], "metadata", []) if m is not None
                  for attr, op in (("gt", ">"), ("ge", ">="), ("lt", "<"), ("le", "<=")) if getattr(m, attr, None) is not None]
        return " ".join([_type_name(args[0]), ", ".join(bounds)]) if bounds else _type_name(args[0])
    if origin is typing.Literal:
        return "one of " + ", ".join(repr(a) for a in args)
    if origin in (typing.Union, types.UnionType):
        return " | ".join(_type_name(a) for a in args)
    if origin is not None:
        return f"{getattr(origin, '__name__', str(origin))}[{', '.join(_type_name(a) for a in args)}]"
    return "null" if hint is type(None) else getattr(hint, "__name__", str(hint))
