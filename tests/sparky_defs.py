"""The session's definitions, built in process from the session config (conftest.py), and
their assets and checks by name: what tests materialize."""

from __future__ import annotations

from functools import cache

import dagster as dg

from sparky_assets.definitions import build_definitions
from sparky_resources.config import get_config


@cache
def session_defs() -> dg.Definitions:
    return build_definitions(get_config())


def assets(*names: str) -> list[dg.AssetsDefinition]:
    """The definitions of the named assets (a multi-asset once per name)."""
    return [session_defs().get_assets_def(name) for name in names]


def asset(name: str) -> dg.AssetsDefinition:
    return session_defs().get_assets_def(name)


def check(asset_name: str, check_name: str) -> dg.AssetChecksDefinition:
    key = dg.AssetCheckKey(dg.AssetKey(asset_name), check_name)
    for checks_def in session_defs().asset_checks or []:
        if key in checks_def.check_keys:
            return checks_def
    raise KeyError(key)


def session_org() -> dg.ResourceDefinition:
    """The `org` resource of the session config (timezone, start date, identity rules)."""
    return session_defs().resources["org"]
