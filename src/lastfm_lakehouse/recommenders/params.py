"""What every recommender's parameter class shares: reading itself from a dbt Python model's config
values, and printing itself for ``mart_model_evaluation`` and the marts' ``parameters`` columns.

A parameter class is a frozen dataclass that validates itself in ``__post_init__`` and names, in
``CONFIG_KEYS``, the config key (= the dbt var) of each field that can be set from dbt.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import asdict
from typing import Any, ClassVar, TypeVar, get_type_hints

P = TypeVar("P", bound="ModelParams")


class ModelParams:
    CONFIG_KEYS: ClassVar[dict[str, str]] = {}

    @classmethod
    def from_config(cls: type[P], get: Callable[[str], Any]) -> P:
        """From a dbt Python model's config values (``get`` = ``dbt.config.get`` or a dict's ``get``):
        each field in ``CONFIG_KEYS`` is converted to its annotated type (int, float)."""
        types = get_type_hints(cls)
        values = {}
        for field, key in cls.CONFIG_KEYS.items():
            raw = get(key)
            if raw is None:
                raise ValueError(f"{cls.__name__}: config key {key!r} is missing (is var {key} set?)")
            try:
                values[field] = types[field](raw)
            except (TypeError, ValueError) as exc:
                raise ValueError(
                    f"{cls.__name__}: var {key} = {raw!r} is not {types[field].__name__}"
                ) from exc
        return cls(**values)

    def as_text(self) -> str:
        return ", ".join(f"{key}={value}" for key, value in asdict(self).items())  # type: ignore[call-overload]

    def as_map(self, **extra: str) -> dict[str, str]:
        """The parameters (and ``extra`` entries) as strings, for a map<string, string> column."""
        return {**{k: str(v) for k, v in asdict(self).items()}, **extra}  # type: ignore[call-overload]
