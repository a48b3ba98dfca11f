"""Thin Dagster definitions, one file per layer, autoloaded by `dg.load_from_defs_folder`."""
