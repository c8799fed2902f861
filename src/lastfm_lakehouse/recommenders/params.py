"""What every recommender's parameter class shares: reading itself from a dbt Python model's config
values, and printing itself for ``mart_model_evaluation`` and the marts' ``parameters`` columns.

A parameter class is a frozen dataclass that validates itself in ``__post_init__`` and names, in
``CONFIG_KEYS``, the config key (= the dbt var) of each field that can be set from dbt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict, replace
from typing import Any, ClassVar, TypeVar, get_type_hints

P = TypeVar("P", bound="ModelParams")


class ModelParams:
    CONFIG_KEYS: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_config(cls: type[P], get: Callable[[str], Any]) -> P:
        """From a dbt Python model's config values (``get`` = ``dbt.config.get`` or a dict's ``get``):
        each field in ``CONFIG_KEYS`` is converted to its annotated type (int, float)."""
        return cls(**{field: cls._read(field, key, get(key)) for field, key in cls.CONFIG_KEYS.items()})

    @classmethod
    def _read(cls, field: str, key: str, raw: Any) -> Any:
        """The config value ``raw`` of var ``key`` as field ``field``'s annotated type."""
        kind = get_type_hints(cls)[field]
        if raw is None:
            raise ValueError(f"{cls.__name__}: config key {key!r} is missing (is var {key} set?)")
        try:
            return kind(raw)
        except (TypeError, ValueError) as exc:
            raise ValueError(f"{cls.__name__}: var {key} = {raw!r} is not {kind.__name__}") from exc

    def with_var(self: P, field: str, key: str, raw: Any) -> P:
        """These parameters with ``field`` set from another var, ``key`` = ``raw`` (a model that
        trains a second variant, say), read and validated as ``from_config`` reads its own."""
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
