"""Incremental identity resolution: per-day tallies merged into the table.

The reference is the full rebuild: every collected day's raw records streamed through one
`IdentityBuilder` in date order, as `build_table` does. Whatever order days arrive in, are
re-collected or removed, the incremental table must be the same JSON, byte for byte in the
file, whether its contributors were rebuilt or copied from the previous file.
"""

from __future__ import annotations

import datetime as dt
import json
import os
import random
from pathlib import Path
from typing import Any
from zoneinfo import ZoneInfo

import dagster as dg
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_identity import commit, issue, pull

from sparky_assets.defs.identity import (
    build_table,
    collected_days,
    contributors,
    update_table,
    write_table,
)
from sparky_assets.lib.identity import (
    STATE_VERSION,
    ContributorsTable,
    IdentityBuilder,
    day_tally,
    dump_state,
    dumps_indented,
    load_state,
    resume_builder,
    table_cache,
    table_document,
)
from sparky_resources.org import OrgResource
from sparky_resources.store import DataStore

NY = ZoneInfo("America/New_York")
# Days around both 2024 DST changes in New York, and a few ordinary ones.
DAYS = [
    "2024-03-09",
    "2024-03-10",
    "2024-03-11",
    "2024-06-01",
    "2024-06-02",
    "2024-11-02",
    "2024-11-03",
    "2024-11-04",
]
BOTS = ["ci-runner"]
ALIASES = {"bob@work.org": "bob@example.com"}
# (name, email, login): the same person under several handles, a namesake, a bot, a login
# only known from a noreply address, an email with no account, an account with no email.
PEOPLE = [
    ("Alice Archer", "alice@example.com", "alice-gh"),
    ("Alice Archer", "Alice@Home.org", "ALICE-GH"),
    ("Alice Archer", "alice2@other.org", None),
    ("Bob", "bob@example.com", None),
    ("Bob", "bob@work.org", None),
    ("Carol", "12345+carol@users.noreply.github.com", None),
    ("Carol C", "carol@example.com", "carol"),
    ("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com", "dependabot[bot]"),
    ("CI", "ci-runner@example.com", None),
    ("Dave", "", "dave"),
    ("root", "root@localhost", None),
]
SUBJECTS = ["Fix things", "Bump requests from 1.0 to 1.1", "Add feature", "Update docs"]
LOGINS = ["alice-gh", "Carol", "dave", "erin", "dependabot[bot]", None, "  "]


def _stamp(day: str, seconds: int) -> str:
    """An instant `seconds` after the start of `day` in New York (may spill into its neighbours)."""
    start = dt.datetime.fromisoformat(day).replace(tzinfo=NY)
    when = (start.astimezone(dt.UTC) + dt.timedelta(seconds=seconds)).astimezone(NY)
    return when.isoformat()


def make_day(rnd: random.Random, day: str) -> tuple[list[Any], list[Any], list[Any]]:
    """One day's raw records: commits, and pull requests and issues that other days repeat."""
    commits = []
    for n in range(rnd.randrange(0, 7)):
        name, email, login = rnd.choice(PEOPLE)
        commits.append(
            commit(
                f"{day}-{n}-{rnd.random()}",
                name,
                email,
                _stamp(day, rnd.randrange(-3 * 3600, 27 * 3600)),
                login=login,
                subject=rnd.choice(SUBJECTS),
                repo=rnd.choice(["r1", "r2"]),
                merge=rnd.random() < 0.1,
            )
        )
    pulls, issues = [], []
    for kind, out in (("pull", pulls), ("issue", issues)):
        for _ in range(rnd.randrange(0, 4)):
            number = rnd.randrange(1, 6)  # few numbers: the same item is in several days
            login = rnd.choice(LOGINS)
            created = _stamp(rnd.choice(DAYS), rnd.randrange(0, 86400))
            make = pull if kind == "pull" else issue
            out.append(
                make(number, login, created, repo=rnd.choice(["r1", "r2"]), bot=rnd.random() < 0.2)
            )
    return commits, pulls, issues


def full_rebuild(contents: dict[str, tuple[list[Any], list[Any], list[Any]]]) -> ContributorsTable:
    """What `build_table` computes: every day's raw records, in date order, through one builder."""
    builder = IdentityBuilder(tz=NY, bots=BOTS, aliases=ALIASES)
    for day in sorted(contents):
        commits, pulls, issues = contents[day]
        builder.add_commits(commits)
        builder.add_pull_requests(pulls)
        builder.add_issues(issues)
    return builder.build()


def _json(value: Any) -> Any:
    """Through JSON and back, as the store keeps it."""
    return json.loads(json.dumps(value))


class History:
    """Collected days with a fingerprint each, tallies kept per day, the stored state and the
    table's file."""

    def __init__(self) -> None:
        self.contents: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}
        self.marks: dict[str, int] = {}
        self.tallies: dict[str, tuple[int, Any]] = {}
        self.state: Any = None
        self.text: bytes | None = None  # the table's file, as the last update wrote it
        self.computed: list[str] = []  # days whose tally was made from raw records
        self.asked: list[str] = []  # days whose tally the update asked for
        self.rebuilt: list[str] = []  # contributors the last update built (not copied)
        self.version = 0

    def collect(self, day: str, records: tuple[list[Any], list[Any], list[Any]]) -> None:
        self.version += 1
        self.contents[day] = records
        self.marks[day] = self.version

    def remove(self, day: str) -> None:
        self.contents.pop(day, None)
        self.marks.pop(day, None)

    def tally_of(self, day: str) -> Any:
        self.asked.append(day)
        mark, tally = self.tallies.get(day, (None, None))
        if mark != self.marks[day]:
            self.computed.append(day)
            tally = _json(day_tally(*self.contents[day], tz=NY))
            self.tallies[day] = (self.marks[day], tally)
        return tally

    def update(self) -> ContributorsTable:
        """The table as the asset makes it: resumed, partly rebuilt, written, stored."""
        self.asked, self.computed = [], []
        builder, state = resume_builder(
            self.state, dict(self.marks), self.tally_of, tz=NY, bots=BOTS, aliases=ALIASES
        )
        cache = self.state.get("table") if self.state is not None else None
        parts = builder.build_parts(cache)
        pieces, spans = table_document({"days": sorted(self.contents)}, parts, self.text)
        self.text = b"".join(pieces)
        self.rebuilt = sorted(parts.fresh)
        self.state = load_state(dump_state({**state, "table": table_cache(parts, spans)}))
        return ContributorsTable.model_validate(json.loads(self.text)["table"])

    def expected_text(self) -> bytes:
        """The file of the full rebuild, as json.dumps writes it."""
        table = full_rebuild(self.contents).model_dump(mode="json")
        document = {"days": sorted(self.contents), "table": table}
        return (json.dumps(document, indent=2, ensure_ascii=False) + "\n").encode()


OPS = st.lists(
    st.tuples(st.sampled_from(["collect", "collect", "collect", "remove"]), st.sampled_from(DAYS)),
    min_size=1,
    max_size=12,
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(ops=OPS, rnd=st.randoms(use_true_random=False))
def test_incremental_table_equals_a_full_rebuild(ops: list[tuple[str, str]], rnd: Any) -> None:
    """Days collected in any order, re-collected and removed: after every step the table is the
    full rebuild's, field for field, and the state covers exactly the collected days."""
    history = History()
    for op, day in ops:
        if op == "collect":
            history.collect(day, make_day(rnd, day))
        else:
            history.remove(day)
        table = history.update()
        expected = full_rebuild(history.contents)
        assert table.model_dump(mode="json") == expected.model_dump(mode="json")
        assert history.text == history.expected_text()
        assert sorted(history.state["days"]) == sorted(history.contents)


def test_appending_a_day_reads_only_that_days_tally() -> None:
    """The common case: a new last day. Only its tally is made or asked for; a re-collected
    day is made again from its raw records (every other day's tally is reused)."""
    rnd = random.Random(7)
    history = History()
    for day in DAYS[:5]:
        history.collect(day, make_day(rnd, day))
    history.update()
    assert history.computed == DAYS[:5]

    history.collect(DAYS[5], make_day(rnd, DAYS[5]))
    table = history.update()
    assert history.asked == [DAYS[5]]
    assert history.computed == [DAYS[5]]
    assert table == full_rebuild(history.contents)

    history.collect(DAYS[2], make_day(rnd, DAYS[2]))  # re-collected: starts over from tallies
    table = history.update()
    assert history.computed == [DAYS[2]]
    assert history.asked == DAYS[:6]
    assert table == full_rebuild(history.contents)

    history.remove(DAYS[0])
    table = history.update()
    assert history.computed == []
    assert history.asked == DAYS[1:6]
    assert table == full_rebuild(history.contents)


def test_appending_a_day_rebuilds_only_the_contributors_it_touches() -> None:
    """A day with one commit by Bob: only Bob's contributor is built again; every other one is
    copied from the previous file, and the file is still the full rebuild's."""
    rnd = random.Random(5)
    history = History()
    for day in DAYS[:5]:
        history.collect(day, make_day(rnd, day))
    history.update()
    assert history.text == history.expected_text()
    before = full_rebuild(history.contents)

    bob = commit("b0b", "Bob", "bob@work.org", _stamp(DAYS[5], 3600), repo="r9")
    history.collect(DAYS[5], ([bob], [], []))
    table = history.update()
    after = full_rebuild(history.contents)
    # Bob's id as the full rebuild names it (the alias joins bob@work.org to bob@example.com).
    assert history.rebuilt == [after.handles["email:bob@work.org"]]
    assert len(table.contributors) == len(before.contributors) + (
        "email:bob@work.org" not in before.handles
    )
    assert len(table.contributors) > 1
    assert history.text == history.expected_text()
    assert "r9" in table.by_id()[history.rebuilt[0]].repos

    history.update()  # nothing new: nothing built, the same file
    assert history.rebuilt == []
    assert history.text == history.expected_text()


def test_other_identity_settings_rebuild_every_contributor() -> None:
    """Bots and aliases decide verdicts and merges: a state built under others is resumed
    (no tally read again) but no contributor's text is copied."""
    rnd = random.Random(9)
    history = History()
    for day in DAYS[:4]:
        history.collect(day, make_day(rnd, day))
    history.update()
    history.state["table"]["config"] = "another configuration"
    history.collect(DAYS[4], make_day(rnd, DAYS[4]))
    table = history.update()
    assert history.asked == [DAYS[4]]
    assert history.rebuilt == sorted(c.id for c in table.contributors)
    assert history.text == history.expected_text()


def test_a_state_of_another_version_or_timezone_starts_over() -> None:
    rnd = random.Random(3)
    history = History()
    for day in DAYS[:3]:
        history.collect(day, make_day(rnd, day))
    history.update()
    history.state["version"] = STATE_VERSION + 1
    history.update()
    assert history.asked == DAYS[:3]
    history.state["builder"]["tz"] = "UTC"
    history.update()
    assert history.asked == DAYS[:3]


def test_a_pull_request_counts_on_the_first_day_that_holds_it() -> None:
    """The same pull request in two day files with different authors (a renamed account):
    the earlier day's author gets it, whichever day was collected first."""
    first = ([], [pull(1, "alice", "2024-06-01T12:00:00Z")], [])
    later = ([], [pull(1, "bob", "2024-06-01T12:00:00Z")], [])
    history = History()
    history.collect("2024-06-02", later)
    assert [c.id for c in history.update().contributors if c.pull_requests] == ["bob"]
    history.collect("2024-06-01", first)
    by_id = history.update().by_id()
    # Worked out by hand: the one pull request is alice's; the later file's copy is skipped
    # whole, as a full rebuild skips it, so bob is no longer anyone.
    assert by_id["alice"].pull_requests == 1
    assert "bob" not in by_id
    assert history.asked == ["2024-06-01", "2024-06-02"]  # an earlier day: started over


# --- through the real asset --------------------------------------------------------------------

READS: list[tuple[str, str, str]] = []


class CountingStore(DataStore):
    """The real DataStore, noting every file read (every read goes through read_versioned)."""

    def read_versioned(self, layer: Any, asset: str, partition: str) -> tuple[int, Any]:
        READS.append((layer, asset, partition))
        return super().read_versioned(layer, asset, partition)


def _collect(store: DataStore, day: str, records: tuple[list[Any], list[Any], list[Any]]) -> None:
    commits, pulls, issues = records
    store.write("raw", "raw_commits", day, commits)
    store.write("raw", "raw_pull_requests", day, pulls)
    store.write("raw", "raw_issues", day, issues)


def _run(store: DataStore, org: OrgResource) -> None:
    READS.clear()
    result = dg.materialize([contributors], resources={"store": store, "org": org})
    assert result.success


def test_the_asset_reads_only_a_new_or_recollected_days_raw_files(tmp_path: Path) -> None:
    store = CountingStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"))
    org = OrgResource(
        timezone="America/New_York", start_date="2024-03-01", bots=BOTS, aliases=ALIASES
    )
    rnd = random.Random(11)
    for day in DAYS[:4]:
        _collect(store, day, make_day(rnd, day))
    _run(store, org)
    assert {p for layer, a, p in READS if layer == "raw"} == set(DAYS[:4])

    def check() -> None:
        """The stored table, days and .mailmap are the full rebuild's, in store.write's text."""
        days = collected_days(store, org)
        full = build_table(store, days, org)
        stored = store.read("processed", "contributors", "contributors")
        assert stored["days"] == days
        assert stored["table"] == full.model_dump(mode="json")
        path = store.path("processed", "contributors", "contributors")
        mailmap = path.with_name("suggested.mailmap").read_text(encoding="utf-8")
        assert mailmap == "".join(f"{line}\n" for line in full.suggested_mailmap)
        other = DataStore(data_dir=str(tmp_path / "ref"), output_dir=str(tmp_path / "ref"))
        payload = {"days": days, "table": full.model_dump(mode="json")}
        reference = other.write("processed", "contributors", "contributors", payload)
        assert path.read_bytes() == reference.read_bytes()

    check()
    _collect(store, DAYS[4], make_day(rnd, DAYS[4]))
    _run(store, org)
    raw = sorted((a, p) for layer, a, p in READS if layer == "raw")
    assert raw == [
        ("raw_commits", DAYS[4]),
        ("raw_issues", DAYS[4]),
        ("raw_pull_requests", DAYS[4]),
    ]
    check()

    _collect(store, DAYS[1], make_day(rnd, DAYS[1]))  # re-collected
    _run(store, org)
    assert {p for layer, a, p in READS if layer == "raw"} == {DAYS[1]}
    check()

    for asset in ("raw_commits", "raw_pull_requests", "raw_issues"):
        store.path("raw", asset, DAYS[0]).unlink()  # a day removed
    _run(store, org)
    assert not [p for layer, a, p in READS if layer == "raw"]
    assert not store.path("processed", "contributor_days", DAYS[0]).exists()
    check()


def _corrupt_in_place(path: Path) -> None:
    """Change the file's bytes as an editor would not notice: same size, same inode, and its
    modification time put back."""
    info = path.stat()
    data = path.read_bytes()
    assert b'"is_bot": false' in data
    with path.open("r+b") as handle:
        handle.write(data.replace(b'"is_bot": false', b'"is_bot": fals3'))
    os.utime(path, ns=(info.st_atime_ns, info.st_mtime_ns))
    assert path.stat().st_size == info.st_size and path.stat().st_ino == info.st_ino


def _reference(store: DataStore, org: OrgResource, tmp_path: Path) -> bytes:
    """contributors.json of the full rebuild from raw files, as DataStore.write writes it."""
    days = collected_days(store, org)
    payload = {"days": days, "table": build_table(store, days, org).model_dump(mode="json")}
    other = DataStore(data_dir=str(tmp_path / "ref"), output_dir=str(tmp_path / "ref"))
    return other.write("processed", "contributors", "contributors", payload).read_bytes()


def test_a_previous_file_changed_by_someone_else_is_not_copied(tmp_path: Path) -> None:
    """The fast path copies contributors from the file the last run wrote, and only from it: a
    file changed since (here in place, same size, mtime put back) is rebuilt whole."""
    store = DataStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"))
    org = OrgResource(
        timezone="America/New_York", start_date="2024-03-01", bots=BOTS, aliases=ALIASES
    )
    rnd = random.Random(21)
    for day in DAYS[:4]:
        _collect(store, day, make_day(rnd, day))
    days = collected_days(store, org)
    first = update_table(store, days, org)
    assert first.previous is None and not first.parts.kept  # nothing to copy yet
    write_table(store, days, first)
    path = store.path("processed", "contributors", "contributors")
    assert path.read_bytes() == _reference(store, org, tmp_path)

    bob = commit("b0b", "Bob", "bob@work.org", _stamp(DAYS[4], 3600))
    _collect(store, DAYS[4], ([bob], [], []))
    days = collected_days(store, org)
    update = update_table(store, days, org)
    assert update.previous is not None and update.parts.kept  # copied from the last file
    write_table(store, days, update)
    assert path.read_bytes() == _reference(store, org, tmp_path)

    _corrupt_in_place(path)
    _collect(store, DAYS[5], ([bob], [], []))
    days = collected_days(store, org)
    update = update_table(store, days, org)
    assert update.previous is None and not update.parts.kept
    write_table(store, days, update)
    assert path.read_bytes() == _reference(store, org, tmp_path)

    path.unlink()  # removed: rebuilt whole too
    update = update_table(store, days, org)
    assert update.previous is None and not update.parts.kept
    write_table(store, days, update)
    assert path.read_bytes() == _reference(store, org, tmp_path)


def test_a_damaged_state_starts_over_from_the_day_tallies(tmp_path: Path) -> None:
    store = CountingStore(data_dir=str(tmp_path / "data"), output_dir=str(tmp_path / "out"))
    org = OrgResource(
        timezone="America/New_York", start_date="2024-03-01", bots=BOTS, aliases=ALIASES
    )
    rnd = random.Random(4)
    for day in DAYS[:3]:
        _collect(store, day, make_day(rnd, day))
    _run(store, org)
    state = next((tmp_path / "data" / "cache" / "contributors").glob("state.*"))
    state.write_bytes(state.read_bytes()[:100])  # cut short
    _run(store, org)
    assert not [p for layer, a, p in READS if layer == "raw"]  # the day tallies, not raw files
    assert sorted(p for layer, a, p in READS if a == "contributor_days") == DAYS[:3]
    path = store.path("processed", "contributors", "contributors")
    assert path.read_bytes() == _reference(store, org, tmp_path)


def test_dumps_indented_is_json_dumps_with_indent() -> None:
    values = st.recursive(
        st.none() | st.booleans() | st.integers() | st.floats() | st.text(),
        lambda inner: (
            st.lists(inner)
            | st.dictionaries(st.text(), inner)
            | st.dictionaries(st.integers() | st.booleans() | st.none(), inner)
        ),
        max_leaves=30,
    )

    @settings(max_examples=300, deadline=None)
    @given(value=values)
    def same(value: Any) -> None:
        assert dumps_indented(value) == json.dumps(value, indent=2, ensure_ascii=False)

    same()
