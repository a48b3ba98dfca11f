"""Sparky's connections to the outside world: configuration, git clones, the data store.

One module per system; no Dagster definitions live here (they are wired in sparky_assets.defs).
"""
