"""What every recommender's parameter class shares: reading itself from its dbt var, and printing
itself for ``mart_model_evaluation`` and the marts' ``parameters`` columns.

A parameter class is a frozen dataclass that validates itself in ``__post_init__``; its fields'
defaults are the only place the defaults are written. ``VAR`` names the dbt var that holds the
family's parameters as one mapping (``als: {rank: 32}``): a key left out keeps its default, so a
Python model reads its parameters in one line, ``AlsParams.from_var(dbt.config.get("als"))``.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields, replace
from typing import Any, ClassVar, TypeVar, get_type_hints

P = TypeVar("P", bound="ModelParams")


class ModelParams:
    VAR: ClassVar[str] = ""

    @classmethod
    def field_names(cls) -> list[str]:
        """The keys the var may hold: the fields, in their order."""
        return [f.name for f in fields(cls)]  # type: ignore[arg-type]

    @classmethod
    def defaults(cls) -> dict[str, Any]:
        return {f.name: f.default for f in fields(cls)}  # type: ignore[arg-type]

    @classmethod
    def from_var(cls: type[P], given: Any) -> P:
        """From the value of var ``VAR`` (a mapping, or None for all defaults): each key converted to
        its field's type; an unknown key, an unreadable value or one the class refuses names the var
        and the key."""
        if given is None or given == "":
            given = {}
        if not isinstance(given, Mapping):
            raise ValueError(
                f"var {cls.VAR} must be a mapping of {', '.join(cls.field_names())} (e.g. "
                f"--vars '{{{cls.VAR}: {{{cls.field_names()[0]}: ...}}}}'), got {given!r}"
            )
        known = cls.field_names()
        unknown = sorted(str(key) for key in given if key not in known)
        if unknown:
            raise ValueError(f"var {cls.VAR}: no key {', '.join(unknown)}; its keys are {', '.join(known)}")
        values = {key: cls._read(key, f"{cls.VAR}.{key}", raw) for key, raw in given.items()}
        try:
            return cls(**values)
        except ValueError as exc:
            raise ValueError(f"var {cls.VAR}: {exc}") from exc

    @classmethod
    def _read(cls, field: str, name: str, raw: Any) -> Any:
        """``raw`` (the value of var ``name``) as field ``field``'s annotated type; a whole number
        for an int (16.0 reads as 16, 16.5 is refused rather than cut)."""
        kind = get_type_hints(cls)[field]
        if raw is None:
            raise ValueError(f"{cls.__name__}: var {name} is missing (is it set?)")
        try:
            value = kind(raw)
            if kind is int and float(raw) != value:
                raise ValueError(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{cls.__name__}: var {name} = {raw!r} is not {kind.__name__}") from exc
        return value

    def with_var(self: P, field: str, key: str, raw: Any) -> P:
        """These parameters with ``field`` set from another var, ``key`` = ``raw`` (a model that
        trains a second variant, say), read and validated as ``from_var`` reads its own."""
        value = self._read(field, key, raw)
        try:
            return replace(self, **{field: value})  # type: ignore[type-var]
        except ValueError as exc:
            raise ValueError(f"{type(self).__name__}: var {key} = {raw!r}: {exc}") from exc

    def as_text(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in asdict(self).items())  # type: ignore[call-overload]

    def as_map(self, **extra: str) -> dict[str, str]:
        """The parameters (and ``extra`` entries) as strings, for a map<string, string> column."""
        return {**{k: str(v) for k, v in asdict(self).items()}, **extra}  # type: ignore[call-overload]
