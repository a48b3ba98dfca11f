"""Identity layer: who is who across clones and GitHub, and who is a bot (and why)."""

from collections.abc import Iterator
from typing import Any

import dagster as dg

from sparky_assets.defs.common import OWNERS
from sparky_assets.lib.identity import ContributorsTable, IdentityBuilder
from sparky_assets.partitions import ORG_TZ, daily_partitions
from sparky_resources.config import get_config
from sparky_resources.store import DataStore, atomic_write_text

CONTRIBUTORS = "contributors"
UNRESOLVED = "identities_resolved"
MAILMAP = "suggested.mailmap"


def collected_days(store: DataStore) -> list[str]:
    """The daily partitions whose commits are on disk (the history the table rests on)."""
    return [
        key
        for key in daily_partitions.get_partition_keys()
        if store.path("raw", "raw_commits", key).exists()
    ]


def build_table(store: DataStore, days: list[str]) -> ContributorsTable:
    """Stream every collected day through the builder (a year never sits in memory at once)."""
    identity = get_config().identity
    builder = IdentityBuilder(tz=ORG_TZ, bots=identity.bots, aliases=identity.aliases)
    for key in days:
        builder.add_commits(store.read("raw", "raw_commits", key))
        builder.add_pull_requests(store.read_or("raw", "raw_pull_requests", key, []))
        builder.add_issues(store.read_or("raw", "raw_issues", key, []))
    return builder.build()


def load_contributors(store: DataStore) -> tuple[ContributorsTable | None, list[str] | None]:
    """The stored table and the days it was built from; (None, None) before the first build."""
    stored = store.read_or("processed", CONTRIBUTORS, CONTRIBUTORS, None)
    if stored is None:
        return None, None
    return ContributorsTable.model_validate(stored["table"]), list(stored["days"])


@dg.asset(
    group_name="identity",
    deps=["raw_commits", "raw_pull_requests", "raw_issues"],
    kinds={"pandas", "json"},
    owners=OWNERS,
    # Unpartitioned, but runs once inside a range run of the daily chain (the CLI's
    # --partition-range needs every selected asset to allow that).
    backfill_policy=dg.BackfillPolicy.single_run(),
    check_specs=[
        dg.AssetCheckSpec(
            UNRESOLVED,
            asset=CONTRIBUTORS,
            description="No two identities share a name without being merged (a suggested "
            ".mailmap line, or an alias, would settle each one).",
        )
    ],
    description=(
        "Canonical identities over all collected days: emails (after .mailmap), GitHub "
        "logins, noreply addresses and [identity].aliases merged; bots marked with the "
        "reason; first and last contribution; a suggested .mailmap for same-name identities "
        "it did not merge. data/processed/contributors/contributors.json"
    ),
)
def contributors(context: dg.AssetExecutionContext, store: DataStore) -> Iterator[Any]:
    days = collected_days(store)
    table = build_table(store, days)
    store.write(
        "processed",
        CONTRIBUTORS,
        CONTRIBUTORS,
        {"days": days, "table": table.model_dump(mode="json")},
    )
    mailmap = store.path("processed", CONTRIBUTORS, CONTRIBUTORS).with_name(MAILMAP)
    atomic_write_text(
        mailmap,
        "".join(f"{line}\n" for line in table.suggested_mailmap),
    )
    people = table.contributors
    yield dg.MaterializeResult(
        metadata={
            "identities": len(people),
            "humans": sum(1 for p in people if not p.is_bot),
            "bots": sum(1 for p in people if p.is_bot),
            "days": len(days),
            "history": f"{days[0]} ... {days[-1]}" if days else "none collected",
            "suggested_mailmap": dg.MetadataValue.path(str(mailmap)),
        }
    )
    unresolved = table.unresolved
    yield dg.AssetCheckResult(
        check_name=UNRESOLVED,
        passed=not unresolved,
        severity=dg.AssetCheckSeverity.WARN,
        metadata={
            "unresolved": len(unresolved),
            "groups": dg.MetadataValue.md(
                "\n".join(f"- {u.name}: {', '.join(u.ids)} ({u.reason})" for u in unresolved[:50])
                or "none"
            ),
            "suggested_mailmap": dg.MetadataValue.path(str(mailmap)),
        },
    )
