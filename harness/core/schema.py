"""The validation every settings class shares: strict keys, the numeric types, and one-line errors that
name the key and what is allowed. A leaf (imports nothing of the harness but its errors), so a method, a
data source or a claim kind declares its settings class without importing the config loader."""

from __future__ import annotations

import dataclasses
import typing
from typing import Any

from pydantic import ConfigDict, Field, TypeAdapter, ValidationError

from harness.core.errors import HarnessError

STRICT = ConfigDict(extra="forbid")
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
