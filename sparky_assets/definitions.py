"""Sparky's single entry point: every definition under `defs/`, loaded by convention."""

import warnings
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
    # `with_source_code_references` and the metadata classes it builds are Dagster's beta API
    # (no stable one exists in 1.13): each warns once per asset and per load, ~90 lines a run.
    # Only that class, only here: any other warning still shows.
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", dg.BetaWarning)
        referenced = dg.with_source_code_references(assets)
    return replace(loaded, assets=referenced)
