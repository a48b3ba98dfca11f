"""Incremental identity resolution: per-day tallies merged into the table.

The reference is the full rebuild: every collected day's raw records streamed through one
`IdentityBuilder` in date order, as `build_table` does. Whatever order days arrive in, are
re-collected or removed, the incremental table must be the same JSON.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any
from zoneinfo import ZoneInfo

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from test_identity import commit, issue, pull

from sparky_assets.lib.identity import (
    STATE_VERSION,
    ContributorsTable,
    IdentityBuilder,
    day_tally,
    resume_builder,
)

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
    """Collected days with a fingerprint each, tallies kept per day, and the stored state."""

    def __init__(self) -> None:
        self.contents: dict[str, tuple[list[Any], list[Any], list[Any]]] = {}
        self.marks: dict[str, int] = {}
        self.tallies: dict[str, tuple[int, Any]] = {}
        self.state: Any = None
        self.computed: list[str] = []  # days whose tally was made from raw records
        self.asked: list[str] = []  # days whose tally the update asked for
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
        self.asked, self.computed = [], []
        builder, state = resume_builder(
            self.state, dict(self.marks), self.tally_of, tz=NY, bots=BOTS, aliases=ALIASES
        )
        self.state = _json(state)
        return builder.build()


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
