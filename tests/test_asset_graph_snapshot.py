"""The asset graph as a reviewed snapshot: keys, deps, groups, partitions, checks, automation.

A change to the graph (a new asset, a dependency, a partitioning, a check, a schedule) shows up
as a diff of `tests/fixtures/asset_graph.json` in review. After an intended change, regenerate
it with `SPARKY_UPDATE_SNAPSHOT=1 pytest tests/test_asset_graph_snapshot.py` and read the diff.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import dagster as dg

from sparky_assets.definitions import defs as load_defs

SNAPSHOT = Path(__file__).parent / "fixtures" / "asset_graph.json"


def _partitions(p: dg.PartitionsDefinition | None) -> str | None:
    if p is None:
        return None
    if isinstance(p, dg.TimeWindowPartitionsDefinition):
        return (
            f"{type(p).__name__}(start={p.start:%Y-%m-%d}, tz={p.timezone}, cron={p.cron_schedule})"
        )
    return type(p).__name__


def graph_snapshot(defs: dg.Definitions) -> dict[str, Any]:
    graph = defs.resolve_asset_graph()
    assets: dict[str, Any] = {}
    for key in sorted(graph.get_all_asset_keys(), key=lambda k: k.to_user_string()):
        node = graph.get(key)
        assets[key.to_user_string()] = {
            "deps": sorted(k.to_user_string() for k in node.parent_keys),
            "group": node.group_name,
            "partitions": _partitions(node.partitions_def),
            "backfill": str(node.backfill_policy.policy_type.value)
            if node.backfill_policy
            else None,
            "kinds": sorted(node.kinds),
            "owners": list(node.owners),
            "pools": sorted(node.pools or []),
            "automation": str(node.automation_condition) if node.automation_condition else None,
            "checks": sorted(c.name for c in graph.asset_check_keys if c.asset_key == key),
            "code_reference": "dagster/code_references" in node.metadata,
        }
    return {
        "assets": assets,
        "jobs": sorted(j.name for j in defs.resolve_all_job_defs() if not j.name.startswith("__")),
        "schedules": {
            s.name: {"cron": s.cron_schedule, "tz": s.execution_timezone, "job": s.job_name}
            for s in sorted(defs.schedules or [], key=lambda s: s.name)
        },
        "sensors": sorted(s.name for s in defs.sensors or []),
    }


def test_the_asset_graph_matches_the_reviewed_snapshot() -> None:
    current = graph_snapshot(load_defs())
    text = json.dumps(current, indent=2, sort_keys=True) + "\n"
    if os.environ.get("SPARKY_UPDATE_SNAPSHOT") == "1":
        SNAPSHOT.write_text(text, encoding="utf-8")
    assert SNAPSHOT.exists(), "no snapshot yet: run with SPARKY_UPDATE_SNAPSHOT=1"
    assert json.loads(SNAPSHOT.read_text(encoding="utf-8")) == current, (
        "the asset graph changed: if intended, regenerate tests/fixtures/asset_graph.json "
        "with SPARKY_UPDATE_SNAPSHOT=1 and review the diff"
    )


def test_every_asset_has_a_group_owner_kind_description_and_code_reference() -> None:
    defs = load_defs()
    graph = defs.resolve_asset_graph()
    groups = {"collect", "identity", "metrics", "insights", "digests", "publish", "deliver"}
    for key in graph.get_all_asset_keys():
        node = graph.get(key)
        name = key.to_user_string()
        assert node.group_name in groups, name
        assert node.owners == ["team:sparky"], name
        assert node.kinds, name
        assert node.description and "<" not in node.description, name  # the UI eats <tags>
        assert "dagster/code_references" in node.metadata, name
