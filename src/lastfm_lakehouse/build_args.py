"""The arguments of the production ``dbt build`` (``lastfm-lakehouse build``, ``make build`` and the
bench's build): dbt's unit tests are left out unless asked for (see ``lastfm_lakehouse.cli``). In
the platform layer, so that the bench and the command line share it without one importing the
other."""

from __future__ import annotations

import os

# dbt's own ways to choose resource types: when the user has used one, their choice stands.
RESOURCE_TYPE_FLAGS = (
    "--resource-type",
    "--resource-types",
    "--exclude-resource-type",
    "--exclude-resource-types",
)
RESOURCE_TYPE_ENV = ("DBT_RESOURCE_TYPES", "DBT_EXCLUDE_RESOURCE_TYPES")


def production_build_args(dbt_args: list[str], unit_tests: bool = False) -> list[str]:
    """``dbt_args`` for the production ``dbt build``: unit tests excluded (module doc) unless
    ``unit_tests``, or the user chose resource types themselves (a flag or dbt's env var)."""
    chosen = any(a.partition("=")[0] in RESOURCE_TYPE_FLAGS for a in dbt_args) or any(
        os.environ.get(name, "").strip() for name in RESOURCE_TYPE_ENV
    )
    if unit_tests or chosen:
        return list(dbt_args)
    return [*dbt_args, "--exclude-resource-type", "unit_test"]
