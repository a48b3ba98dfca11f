"""Identity layer: who is who across clones and GitHub, and who is a bot (and why)."""

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import dagster as dg

from sparky_assets.defs.common import OWNERS
from sparky_assets.lib.identity import (
    STATE_VERSION,
    ContributorsTable,
    IdentityBuilder,
    day_tally,
    dumps_indented,
    resume_builder,
)
from sparky_resources.clock import calendar_days
from sparky_resources.org import OrgResource
from sparky_resources.store import SCHEMA_VERSION, DataStore, StoreError, atomic_write_text

CONTRIBUTORS = "contributors"
UNRESOLVED = "identities_resolved"
MAILMAP = "suggested.mailmap"
# What each day contributed (data/processed/contributor_days/{day}.json), and what the table
# was built from (data/cache/contributors/state.json): a run reads only new or changed days.
DAY_TALLIES = "contributor_days"
STATE = "state"
_RAW = ("raw_commits", "raw_pull_requests", "raw_issues")


def collected_days(store: DataStore, org: OrgResource) -> list[str]:
    """The daily partitions whose commits are on disk (the history the table rests on)."""
    every = calendar_days(org.first_day, org.today() + dt.timedelta(days=1))
    return [key for key in every if store.path("raw", "raw_commits", key).exists()]


def build_table(store: DataStore, days: list[str], org: OrgResource) -> ContributorsTable:
    """Stream every collected day through the builder (a year never sits in memory at once)."""
    builder = IdentityBuilder(tz=org.tz, bots=org.bots, aliases=org.aliases)
    for key in days:
        builder.add_commits(store.read("raw", "raw_commits", key))
        builder.add_pull_requests(store.read_or("raw", "raw_pull_requests", key, []))
        builder.add_issues(store.read_or("raw", "raw_issues", key, []))
    return builder.build()


def _fingerprint(store: DataStore, key: str) -> list[list[int] | None]:
    """A day's raw files as they are now: size, mtime and inode of each (None: absent). The
    store replaces a file by rename, so a re-collected day has a new inode at least."""
    marks: list[list[int] | None] = []
    for asset in _RAW:
        try:
            info = store.path("raw", asset, key).stat()
        except FileNotFoundError:
            marks.append(None)
            continue
        marks.append([info.st_size, info.st_mtime_ns, info.st_ino])
    return marks


def update_table(
    store: DataStore, days: list[str], org: OrgResource
) -> tuple[ContributorsTable, dict[str, Any]]:
    """The table over `days`, reading raw files only for days not seen as they are now.

    Returns the table and the state to store once the table is written (`resume_builder`).
    A day's tally is reused while its raw files keep their fingerprint.
    """
    marks = {key: _fingerprint(store, key) for key in days}

    def tally_of(key: str) -> dict[str, Any]:
        try:
            stored = store.read_or("processed", DAY_TALLIES, key, None)
        except StoreError:
            stored = None  # unreadable: made again below
        if (
            stored is not None
            and stored.get("version") == STATE_VERSION
            and stored.get("tz") == org.tz.key
            and stored.get("sources") == marks[key]
        ):
            return stored
        tally = day_tally(
            store.read("raw", "raw_commits", key),
            store.read_or("raw", "raw_pull_requests", key, []),
            store.read_or("raw", "raw_issues", key, []),
            tz=org.tz,
        )
        tally["sources"] = marks[key]
        store.write("processed", DAY_TALLIES, key, tally)
        return tally

    try:
        state = store.read_or("cache", CONTRIBUTORS, STATE, None)
    except StoreError:
        state = None  # unreadable: every day's tally again
    builder, state = resume_builder(
        state, marks, tally_of, tz=org.tz, bots=org.bots, aliases=org.aliases
    )
    return builder.build(), state


def write_table(
    store: DataStore, days: list[str], table: ContributorsTable, state: dict[str, Any]
) -> None:
    """Store the table (contributors.json, as store.write writes it), then the state."""
    # The text store.write writes, at C speed (the table of a year is ~30 MB of JSON).
    document = {"schema_version": SCHEMA_VERSION, "days": days}
    document["table"] = table.model_dump(mode="json")
    atomic_write_text(
        store.path("processed", CONTRIBUTORS, CONTRIBUTORS), dumps_indented(document) + "\n"
    )
    # The state only once the table is written: a run that dies before resumes from the last.
    state_path = store.path("cache", CONTRIBUTORS, STATE)
    envelope = {"schema_version": SCHEMA_VERSION, **state}
    atomic_write_text(state_path, json.dumps(envelope, separators=(",", ":")))
    for stale in store.path("processed", DAY_TALLIES, "x").parent.glob("*.json"):
        if stale.stem not in state["days"]:
            stale.unlink(missing_ok=True)  # a day no longer collected


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
def contributors(
    context: dg.AssetExecutionContext, store: DataStore, org: OrgResource
) -> Iterator[Any]:
    days = collected_days(store, org)
    table, state = update_table(store, days, org)
    write_table(store, days, table, state)
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
