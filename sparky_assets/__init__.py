"""Sparky's Dagster project: thin assets in `defs/` over plain logic in `lib/`."""

__version__ = "0.1.0"
