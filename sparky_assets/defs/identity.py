"""Identity layer: who is who across clones and GitHub, and who is a bot (and why)."""

import datetime as dt
import gc
import os
import zlib
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import dagster as dg

from sparky_assets.defs.common import OWNERS
from sparky_assets.lib.identity import (
    TALLY_VERSION,
    ContributorsTable,
    IdentityBuilder,
    TableParts,
    day_tally,
    dump_state,
    dumps_indented,
    load_state,
    resume_builder,
    table_cache,
    table_document,
)
from sparky_resources.clock import calendar_days
from sparky_resources.org import OrgResource
from sparky_resources.store import (
    SCHEMA_VERSION,
    DataStore,
    StoreError,
    atomic_write_bytes,
    atomic_write_parts,
    atomic_write_text,
)

CONTRIBUTORS = "contributors"
UNRESOLVED = "identities_resolved"
MAILMAP = "suggested.mailmap"
# What each day contributed (data/processed/contributor_days/{day}.json), and what the table
# was built from (data/cache/contributors/state.marshal, private): a run reads only new or
# changed days, and rebuilds only the contributors they touch.
DAY_TALLIES = "contributor_days"
STATE_FILE = "state.marshal"
_OLD_STATE_FILE = "state.json"  # before the state was marshal
_RAW = ("raw_commits", "raw_pull_requests", "raw_issues")


def _folder_stats(store: DataStore, asset: str) -> dict[str, os.stat_result]:
    """Each partition file of a raw asset and its stat, from one listing of its folder."""
    folder = store.path("raw", asset, "x").parent
    found: dict[str, os.stat_result] = {}
    try:
        entries = list(os.scandir(folder))
    except FileNotFoundError:
        return found
    for entry in entries:
        if entry.name.endswith(".json") and not entry.name.startswith("."):
            try:
                found[entry.name[: -len(".json")]] = entry.stat()
            except FileNotFoundError:
                continue  # removed while listed
    return found


def collected_days(store: DataStore, org: OrgResource) -> list[str]:
    """The daily partitions whose commits are on disk (the history the table rests on)."""
    every = calendar_days(org.first_day, org.today() + dt.timedelta(days=1))
    present = _folder_stats(store, "raw_commits")
    return [key for key in every if key in present]


def build_table(store: DataStore, days: list[str], org: OrgResource) -> ContributorsTable:
    """Stream every collected day through the builder (a year never sits in memory at once)."""
    builder = IdentityBuilder(
        tz=org.tz, bots=org.bots, bot_patterns=org.bot_patterns, aliases=org.aliases
    )
    for key in days:
        builder.add_commits(store.read("raw", "raw_commits", key))
        builder.add_pull_requests(store.read_or("raw", "raw_pull_requests", key, []))
        builder.add_issues(store.read_or("raw", "raw_issues", key, []))
    return builder.build()


def _fingerprints(store: DataStore, days: list[str]) -> dict[str, list[list[int] | None]]:
    """Each day's raw files as they are now: size, mtime and inode of each (None: absent).
    The store replaces a file by rename, so a re-collected day has a new inode at least."""
    stats = [_folder_stats(store, asset) for asset in _RAW]
    marks: dict[str, list[list[int] | None]] = {}
    for key in days:
        day: list[list[int] | None] = []
        for found in stats:
            info = found.get(key)
            day.append(None if info is None else [info.st_size, info.st_mtime_ns, info.st_ino])
        marks[key] = day
    return marks


@contextmanager
def _collector_paused() -> Iterator[None]:
    """Python's cyclic garbage collector walks every live object on each full collection,
    and a run makes a day's records and a year's handles: several collections would cost more
    than the run's own work. What the run makes is freed by reference counting (records,
    tallies and models hold no cycles), and any cycle left is collected once it is re-enabled.
    https://docs.python.org/3/library/gc.html"""
    enabled = gc.isenabled()
    gc.disable()
    try:
        yield
    finally:
        if enabled:
            gc.enable()


@dataclass
class ContributorsUpdate:
    """A built table not yet written, the state to store with it, and the previous file's
    text where the table keeps contributors from it."""

    parts: TableParts
    state: dict[str, Any]
    previous: bytes | None


def _state_path(store: DataStore) -> Path:
    return store.path("cache", CONTRIBUTORS, "state").with_name(STATE_FILE)


def _load_state(store: DataStore) -> dict[str, Any] | None:
    try:
        return load_state(_state_path(store).read_bytes())
    except OSError:
        return None  # none yet, or unreadable: every day's tally again


def _previous_text(store: DataStore, cache: Any) -> bytes | None:
    """The contributors file the cached spans point into, or None if it is not the file that
    run wrote (written since by anyone else, replaced, removed): size, mtime, inode and CRC-32
    must all be as that run recorded them."""
    mark = cache.get("file") if isinstance(cache, dict) else None
    if not isinstance(mark, list | tuple) or len(mark) != 4:
        return None
    size, mtime_ns, inode, crc = mark
    try:
        with store.path("processed", CONTRIBUTORS, CONTRIBUTORS).open("rb") as handle:
            info = os.fstat(handle.fileno())
            if (info.st_size, info.st_mtime_ns, info.st_ino) != (size, mtime_ns, inode):
                return None
            data = handle.read()
    except OSError:
        return None
    if len(data) != size or zlib.crc32(data) != crc:
        return None
    return data


def update_table(store: DataStore, days: list[str], org: OrgResource) -> ContributorsUpdate:
    """The table over `days`, reading raw files only for days not seen as they are now, and
    rebuilding only the contributors those days touch.

    A day's tally is reused while its raw files keep their fingerprint; the builder resumes
    from the stored state when only later days were added (`resume_builder`); contributors
    the new days did not touch keep their text in the previous file while that file is the
    one the last run wrote (`_previous_text`). Anything else falls back to the longer way,
    with the same result.
    """
    with _collector_paused():
        return _update_table(store, days, org)


def _update_table(store: DataStore, days: list[str], org: OrgResource) -> ContributorsUpdate:
    marks = _fingerprints(store, days)

    def tally_of(key: str) -> dict[str, Any]:
        try:
            stored = store.read_or("processed", DAY_TALLIES, key, None)
        except StoreError:
            stored = None  # unreadable: made again below
        if (
            stored is not None
            and stored.get("version") == TALLY_VERSION
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
        # store.write's text (`dumps_indented` is json.dumps with indent=2, at C speed).
        document = {"schema_version": SCHEMA_VERSION, **tally}
        atomic_write_text(
            store.path("processed", DAY_TALLIES, key), dumps_indented(document) + "\n"
        )
        return tally

    old = _load_state(store)
    builder, state = resume_builder(
        old,
        marks,
        tally_of,
        tz=org.tz,
        bots=org.bots,
        bot_patterns=org.bot_patterns,
        aliases=org.aliases,
    )
    cache = old.get("table") if old is not None else None
    previous = _previous_text(store, cache) if cache is not None else None
    parts = builder.build_parts(cache if previous is not None else None)
    return ContributorsUpdate(parts=parts, state=state, previous=previous)


def write_table(store: DataStore, days: list[str], update: ContributorsUpdate) -> None:
    """Store the table (contributors.json, in store.write's text) and suggested.mailmap, then
    the state: a run that dies before resumes from the last one's."""
    with _collector_paused():
        _write_table(store, days, update)


def _write_table(store: DataStore, days: list[str], update: ContributorsUpdate) -> None:
    path = store.path("processed", CONTRIBUTORS, CONTRIBUTORS)
    header = {"schema_version": SCHEMA_VERSION, "days": days}
    pieces, spans = table_document(header, update.parts, update.previous)
    crc = 0
    for piece in pieces:
        crc = zlib.crc32(piece, crc)
    atomic_write_parts(path, pieces)
    info = path.stat()
    cache = table_cache(update.parts, spans)
    cache["file"] = [info.st_size, info.st_mtime_ns, info.st_ino, crc]
    atomic_write_text(
        path.with_name(MAILMAP), "".join(f"{line}\n" for line in update.parts.suggested_mailmap)
    )
    state_path = _state_path(store)
    atomic_write_bytes(state_path, dump_state({**update.state, "table": cache}))
    state_path.with_name(_OLD_STATE_FILE).unlink(missing_ok=True)
    for stale in store.path("processed", DAY_TALLIES, "x").parent.glob("*.json"):
        if stale.stem not in update.state["days"]:
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
    update = update_table(store, days, org)
    write_table(store, days, update)
    mailmap = store.path("processed", CONTRIBUTORS, CONTRIBUTORS).with_name(MAILMAP)
    table = update.parts
    bots = table.bots()
    yield dg.MaterializeResult(
        metadata={
            "identities": len(table.ids),
            "humans": len(table.ids) - bots,
            "bots": bots,
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
