"""Sparky's single entry point: every definition under `defs/`, loaded by convention."""

from pathlib import Path

import dagster as dg
from dagster_shared.record import replace


@dg.definitions
def defs() -> dg.Definitions:
    loaded = dg.load_from_defs_folder(path_within_project=Path(__file__).parent)
    # Modules import each other's assets, so the same object is listed more than once; Dagster
    # dedupes by identity, and the copies below would not be identical: dedupe first.
    assets = list({id(a): a for a in loaded.assets or []}.values())
    # Every asset links to the file and line that defines it ("Code references" in the UI).
    return replace(loaded, assets=dg.with_source_code_references(assets))
