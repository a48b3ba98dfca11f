"""Daily, weekly and monthly metrics from the same raw data, through a real Dagster instance.

The session's org timezone is America/New_York, daily partitions from 2024-05-01. A generated
repository has commits from 2024-09-23 on; the days 2024-09-16 ... 2024-11-30 and
2025-03-03 ... 2025-03-16 are collected (the first week is before any history), covering:
- 2024-11-03, a 25-hour day (clocks fall back) inside the week of 2024-10-28, which also spans
  two months (October 28-31 and November 1-3);
- 2025-03-09, a 23-hour day (clocks spring forward).
Expected figures come from an independent `git log` parse bucketed by the test's own
midnight instants, and from the identities written down by hand in PERSON below.
"""

from __future__ import annotations

import datetime as dt
import subprocess
from pathlib import Path
from zoneinfo import ZoneInfo

import dagster as dg
import pytest
from dagster._core.storage.tags import (
    ASSET_PARTITION_RANGE_END_TAG,
    ASSET_PARTITION_RANGE_START_TAG,
)
from gitrepo import Person, Repo
from sparky_defs import assets, session_org
from test_pipeline import read

from sparky_resources.clock import window as make_window
from sparky_resources.github_collect import GitHubResource
from sparky_resources.local_git import LocalGitResource
from sparky_resources.store import DataStore

raw_commits, repositories = assets("raw_commits", "repositories")
(github_activity,) = assets("raw_pull_requests")
(contributors,) = assets("contributors")
daily_metrics, monthly_metrics, weekly_metrics = assets(
    "daily_metrics", "monthly_metrics", "weekly_metrics"
)

NY = ZoneInfo("America/New_York")
ALICE = Person("Alice Archer", "alice@example.com")
BOB_A = Person("Bob Builder", "bobby@users.noreply.github.com")
BOB_B = Person("Bob Builder", "123+bobby@users.noreply.github.com")
CAROL = Person("Carol Chen", "carol@example.com")
DAVE = Person("Dave Doe", "dave@example.com")
DEPENDABOT = Person("dependabot[bot]", "49699333+dependabot[bot]@users.noreply.github.com")
RENOVATE = Person("Deps Updater", "updates@deps.example")  # no bot pattern matches
# Who is who, written down by hand: both of Bob's GitHub noreply forms are the login "bobby".
PERSON = {
    ALICE.email: "alice",
    BOB_A.email: "bob",
    BOB_B.email: "bob",
    CAROL.email: "carol",
    DAVE.email: "dave",
    DEPENDABOT.email: "dependabot",
    RENOVATE.email: "renovate",
}
BOTS = {"dependabot", "renovate"}  # [bot] suffix; renovate only by its automated subjects


def _history(path: Path) -> Repo:
    r = Repo(path)
    n = 0

    def commit(who: Person, when: str, subject: str | None = None, lines: int = 2) -> None:
        nonlocal n
        n += 1
        r.write(f"f{n % 7}.txt", "".join(f"{n} {i}\n" for i in range(lines)))
        r.commit(subject or f"change {n}", who, when)

    # Alice: Monday and Thursday of every week from 2024-09-23 to 2024-10-24, then silent
    # until 2024-11-12: gone quiet in the week of 2024-10-28 (active in the 4 before it).
    for week in range(5):
        monday = dt.date(2024, 9, 23) + dt.timedelta(days=7 * week)
        commit(ALICE, f"{monday}T10:00:00-04:00", lines=3)
        commit(ALICE, f"{monday + dt.timedelta(days=3)}T15:00:00-04:00", lines=1)
    commit(ALICE, "2024-11-12T09:00:00-05:00")
    # Bob under both noreply forms, one identity.
    commit(BOB_A, "2024-10-01T12:00:00-04:00")
    commit(BOB_B, "2024-10-29T12:00:00-04:00", lines=5)
    commit(BOB_A, "2024-11-02T23:59:59-04:00")
    # Carol: first ever on 2024-10-30 (new that day, that week, that month).
    commit(CAROL, "2024-10-30T08:00:00-04:00", lines=4)
    # Dave: 23:30 on the 25-hour day 2024-11-03 (EST, -05:00) is 04:30Z on 11-04: still 11-03.
    commit(DAVE, "2024-11-03T23:30:00-05:00")
    # 01:30 happens twice on 2024-11-03: both instants are that day.
    commit(CAROL, "2024-11-03T01:30:00-04:00")
    commit(CAROL, "2024-11-03T01:30:00-05:00")
    commit(DEPENDABOT, "2024-10-31T06:00:00-04:00", "Bump lodash from 4.17.20 to 4.17.21")
    for day in ("2024-10-02", "2024-10-29", "2024-11-05"):
        commit(RENOVATE, f"{day}T03:00:00-04:00", "chore(deps): update dependency ruff to v0.6")
    # The 23-hour day 2025-03-09: 23:30 EDT is 03:30Z on 03-10, still the 9th.
    commit(DAVE, "2025-03-04T10:00:00-05:00")
    commit(ALICE, "2025-03-09T01:30:00-05:00")
    commit(DAVE, "2025-03-09T23:30:00-04:00", lines=6)
    commit(CAROL, "2025-03-12T12:00:00-04:00")
    return r


@pytest.fixture(scope="module")
def world(tmp_path_factory: pytest.TempPathFactory):
    """The repository collected and every window materialized once (module-wide: it is slow)."""
    tmp = tmp_path_factory.mktemp("window")
    repo = _history(tmp / "season")
    resources = {
        "local_git": LocalGitResource(repos=[str(repo.path)], cache_dir=str(tmp / "cache")),
        "github": GitHubResource(),
        "org": session_org(),
        "store": DataStore(data_dir=str(tmp / "data"), output_dir=str(tmp / "output")),
    }
    with dg.instance_for_test() as instance:

        def run(assets, first: str, last: str | None = None) -> None:
            tags = {ASSET_PARTITION_RANGE_START_TAG: first, ASSET_PARTITION_RANGE_END_TAG: last}
            result = dg.materialize(
                assets,
                resources=resources,
                instance=instance,
                partition_key=first if last is None else None,
                tags=tags if last is not None else None,
            )
            assert result.success

        collect = [repositories, raw_commits, github_activity]
        run(collect, "2024-09-16", "2024-11-30")
        run(collect, "2025-03-03", "2025-03-16")
        assert dg.materialize([contributors], resources=resources, instance=instance).success
        run([daily_metrics], "2024-09-16", "2024-11-30")
        run([daily_metrics], "2025-03-03", "2025-03-16")
        run([weekly_metrics], "2024-09-16", "2024-11-11")
        run([weekly_metrics], "2025-03-03", "2025-03-10")
        run([monthly_metrics], "2024-10-01", "2024-11-01")
        yield tmp, repo, instance


def _git_log(repo: Repo) -> list[dict]:
    """Non-merge commits from git itself: committer epoch, mailmapped author email, lines."""
    out = repo.git("log", "--no-merges", "--numstat", "--format=@%ct %aE")
    commits: list[dict] = []
    for line in out.splitlines():
        if line.startswith("@"):
            ts, email = line[1:].split(" ", 1)
            commits.append({"ts": int(ts), "email": email.lower(), "add": 0, "del": 0, "files": 0})
        elif line.strip():
            added, deleted, _ = line.split("\t", 2)
            commits[-1]["add"] += int(added)
            commits[-1]["del"] += int(deleted)
            commits[-1]["files"] += 1
    return commits


def _expected(repo: Repo, first: dt.date, after: dt.date) -> dict:
    """Figures of [first, after) from git log, with midnights computed here from zoneinfo."""
    lo = dt.datetime.combine(first, dt.time(), tzinfo=NY).timestamp()
    hi = dt.datetime.combine(after, dt.time(), tzinfo=NY).timestamp()
    inside = [c for c in _git_log(repo) if lo <= c["ts"] < hi]
    people = {PERSON[c["email"]] for c in inside}
    humans = [c for c in inside if PERSON[c["email"]] not in BOTS]
    return {
        "commits": len(inside),
        "human_commits": len(humans),
        "lines_added": sum(c["add"] for c in inside),
        "lines_deleted": sum(c["del"] for c in inside),
        "files_changed": sum(c["files"] for c in inside),
        "active_contributors": len(people),
        "human_contributors": len(people - BOTS),
        "distinct_emails": len({c["email"] for c in inside}),
    }


def _metrics(tmp: Path, period: str, key: str) -> dict:
    return read(tmp / "data/processed" / f"{period}_metrics" / f"{key}.json")


FIGURES = (
    "commits",
    "human_commits",
    "lines_added",
    "lines_deleted",
    "files_changed",
    "active_contributors",
    "human_contributors",
)


@pytest.mark.parametrize(
    ("period", "key", "first", "after"),
    [
        ("daily", "2024-11-03", "2024-11-03", "2024-11-04"),
        ("daily", "2025-03-09", "2025-03-09", "2025-03-10"),
        ("weekly", "2024-10-28", "2024-10-28", "2024-11-04"),
        ("weekly", "2025-03-03", "2025-03-03", "2025-03-10"),
        ("monthly", "2024-10-01", "2024-10-01", "2024-11-01"),
        ("monthly", "2024-11-01", "2024-11-01", "2024-12-01"),
    ],
)
def test_windows_match_git_log(world, period: str, key: str, first: str, after: str) -> None:
    tmp, repo, _ = world
    got = _metrics(tmp, period, key)
    want = _expected(repo, dt.date.fromisoformat(first), dt.date.fromisoformat(after))
    assert {f: got[f] for f in FIGURES} == {f: want[f] for f in FIGURES}
    assert got["period"] == period


def test_dst_days_are_23_and_25_hours_and_keep_their_late_commits(world) -> None:
    tmp, _, _ = world
    fall, spring = _metrics(tmp, "daily", "2024-11-03"), _metrics(tmp, "daily", "2025-03-09")
    assert (fall["hours"], spring["hours"]) == (25, 23)
    # 2024-11-03: Bob's 23:59:59 was on 11-02; Carol twice at 01:30 and Dave at 23:30 EST.
    assert fall["commits"] == 3
    # 2025-03-09: Alice at 01:30 EST and Dave at 23:30 EDT (03:30Z on the 10th).
    assert spring["commits"] == 2
    week = _metrics(tmp, "weekly", "2024-10-28")
    assert week["hours"] == 7 * 24 + 1
    assert _metrics(tmp, "weekly", "2025-03-03")["hours"] == 7 * 24 - 1


def test_commits_per_day_follow_git_log_by_the_orgs_midnights(world) -> None:
    """The digest's chart series: each day's non-merge commits, counted here from git log."""
    tmp, repo, _ = world
    week = _metrics(tmp, "weekly", "2024-10-28")
    start = dt.date(2024, 10, 28)
    want = {
        str(start + dt.timedelta(days=i)): _expected(
            repo, start + dt.timedelta(days=i), start + dt.timedelta(days=i + 1)
        )["commits"]
        for i in range(7)
    }
    assert week["commits_per_day"] == want
    assert sum(want.values()) == week["commits"] and max(want.values()) > 0
    # Every day of November was collected: thirty numbers, summing to the month's commits.
    month = _metrics(tmp, "monthly", "2024-11-01")
    assert len(month["commits_per_day"]) == 30 and None not in month["commits_per_day"].values()
    assert sum(month["commits_per_day"].values()) == month["commits"]


def test_a_week_spanning_two_months_splits_between_the_months(world) -> None:
    tmp, _, _ = world
    week = _metrics(tmp, "weekly", "2024-10-28")
    days = [_metrics(tmp, "daily", f"2024-10-{d}") for d in (28, 29, 30, 31)]
    days += [_metrics(tmp, "daily", f"2024-11-0{d}") for d in (1, 2, 3)]
    assert week["days"] == [d["partition"] for d in days]
    assert week["days_collected"] == 7
    # Additive figures of a week are the sums of its days.
    for figure in (
        "commits",
        "human_commits",
        "merges",
        "lines_added",
        "lines_deleted",
        "files_changed",
        "bot_commits",
        "human_lines_added",
    ):
        assert week[figure] == sum(d[figure] for d in days), figure
    # Distinct counts are not: Carol is active on 10-30 and 11-03 but one person in the week.
    assert week["active_contributors"] < sum(d["active_contributors"] for d in days)


def test_every_week_equals_the_sum_of_its_days(world) -> None:
    tmp, _, _ = world
    monday = dt.date(2024, 9, 16)
    while monday <= dt.date(2024, 11, 11):
        week = _metrics(tmp, "weekly", str(monday))
        days = [_metrics(tmp, "daily", str(monday + dt.timedelta(days=i))) for i in range(7)]
        for figure in ("commits", "lines_added", "lines_deleted", "files_changed", "merges"):
            assert week[figure] == sum(d[figure] for d in days), (monday, figure)
        monday += dt.timedelta(days=7)


def test_canonical_identities_merge_noreply_forms(world) -> None:
    tmp, repo, _ = world
    week = _metrics(tmp, "weekly", "2024-10-28")
    want = _expected(repo, dt.date(2024, 10, 28), dt.date(2024, 11, 4))
    # Bob's two noreply addresses are one login: one fewer than plain distinct emails.
    assert want["distinct_emails"] == want["active_contributors"] + 1
    assert week["active_contributors"] == want["active_contributors"]


def test_bots_by_suffix_and_by_automated_subjects(world) -> None:
    tmp, _, _ = world
    table = read(tmp / "data/processed/contributors/contributors.json")["table"]
    bots = {c["name"]: c["bot_reason"] for c in table["contributors"] if c["is_bot"]}
    assert set(bots) == {"dependabot[bot]", "Deps Updater"}
    assert "[bot]" in bots["dependabot[bot]"]
    assert "automated" in bots["Deps Updater"]
    week = _metrics(tmp, "weekly", "2024-10-28")
    # Week of 10-28: dependabot (10-31) and renovate (10-29) are the bots.
    assert week["bot_contributors"] == 2
    assert week["commits"] - week["human_commits"] == week["bot_commits"] == 2


def test_new_contributors_by_first_contribution_ever(world) -> None:
    tmp, _, _ = world
    oct30 = _metrics(tmp, "daily", "2024-10-30")
    assert [p["name"] for p in oct30["new_contributor_list"]] == ["Carol Chen"]
    week = _metrics(tmp, "weekly", "2024-10-28")
    # Carol (10-30), dependabot (10-31) and Dave (11-03) contribute for the first time; Bob
    # did on 10-01, Renovate on 10-02.
    names = sorted(p["name"] for p in week["new_contributor_list"])
    assert names == ["Carol Chen", "Dave Doe", "dependabot[bot]"]
    assert (week["new_contributors"], week["human_new_contributors"]) == (3, 2)
    # Not new again in later windows.
    assert _metrics(tmp, "weekly", "2024-11-04")["new_contributors"] == 0
    first = _metrics(tmp, "weekly", "2024-09-23")
    # The repository's first week: its only contributor is new; the basis says from when.
    assert first["new_contributors"] == 1  # Alice only
    assert first["history"]["first_day"] == "2024-09-16"


def test_gone_quiet_needs_four_active_windows_and_the_history_for_them(world) -> None:
    tmp, _, _ = world
    week = _metrics(tmp, "weekly", "2024-10-28")
    assert [p["name"] for p in week["quiet_contributor_list"]] == ["Alice Archer"]
    assert week["quiet_contributors"] == 1
    # The week of 10-14 has its 4 previous weeks collected (09-16 ... 10-13) and Alice is
    # active in it: 0. The week of 10-07 lacks history (09-09 ... 09-15 was never collected).
    assert _metrics(tmp, "weekly", "2024-10-14")["quiet_contributors"] == 0
    early = _metrics(tmp, "weekly", "2024-10-07")
    assert early["quiet_contributors"] is None and "lacks" in early["quiet_note"]
    # March 2025: the table has a gap (2024-11-18 ... 2025-03-02), so it cannot say.
    assert _metrics(tmp, "weekly", "2025-03-10")["quiet_contributors"] is None


def test_change_against_the_previous_window(world) -> None:
    tmp, _, _ = world
    now, before = _metrics(tmp, "weekly", "2024-10-28"), _metrics(tmp, "weekly", "2024-10-21")
    change = now["change"]["commits"]
    assert now["previous_partition"] == "2024-10-21"
    assert change["previous"] == before["commits"]
    assert change["absolute"] == now["commits"] - before["commits"]
    percent = 100 * (now["commits"] - before["commits"]) / before["commits"]
    assert change["percent"] == round(percent, 1)
    # Against an empty week: the absolute change, but no percent of 0.
    first = _metrics(tmp, "weekly", "2024-09-23")
    assert first["previous_partition"] == "2024-09-16"
    assert first["change"]["commits"] == {"previous": 0, "absolute": 2, "percent": None}
    # No earlier window collected: no change to report.
    empty = _metrics(tmp, "weekly", "2024-09-16")
    assert empty["previous_partition"] is None
    assert empty["change"]["commits"]["absolute"] is None


def test_without_github_the_github_figures_are_not_available(world) -> None:
    tmp, _, _ = world
    month = _metrics(tmp, "monthly", "2024-10-01")
    for figure in (
        "prs_opened",
        "prs_merged",
        "prs_open_at_end",
        "issues_opened",
        "issues_open_at_end",
        "releases",
        "pull_requests",
        "issues",
    ):
        assert month[figure] is None, figure
    assert "not collected" in month["github_note"]


def test_contributor_absence_factor_per_repo_and_org(world) -> None:
    tmp, repo, _ = world
    month = _metrics(tmp, "monthly", "2024-10-01")
    # October, human commits by person from git log, counted here:
    lo = dt.datetime(2024, 10, 1, tzinfo=NY).timestamp()
    hi = dt.datetime(2024, 11, 1, tzinfo=NY).timestamp()
    counts: dict[str, int] = {}
    for c in _git_log(repo):
        person = PERSON[c["email"]]
        if lo <= c["ts"] < hi and person not in BOTS:
            counts[person] = counts.get(person, 0) + 1
    # Alice has 7 of October's 10 human commits (10-03 ... 10-24), more than half on her own.
    assert counts["alice"] * 2 >= sum(counts.values())
    assert month["caf"] == 1
    assert month["per_repo"][0]["caf"] == 1
    assert month["top_contributor_share"] == round(counts["alice"] / sum(counts.values()), 3)


def test_a_window_before_any_history_is_empty(world) -> None:
    tmp, _, _ = world
    week = _metrics(tmp, "weekly", "2024-09-16")
    zeros = (
        "commits",
        "merges",
        "active_contributors",
        "lines_added",
        "active_repos",
        "new_contributors",
    )
    assert {f: week[f] for f in zeros} == dict.fromkeys(zeros, 0)
    assert (week["caf"], week["top_contributor_share"], week["days_collected"]) == (None, None, 7)
    assert [r["repo"] for r in week["per_repo"]] == ["season"]  # listed, quiet


def test_a_window_whose_days_were_never_collected_names_them(world) -> None:
    tmp, _, _ = world
    # The first week holds 2024-04-29 and 04-30, before start_date: only 5 of its days exist.
    window = make_window("weekly", "2024-04-29", NY)
    assert window.days[0] == "2024-04-29" and len(window.days) == 7
    store = DataStore(data_dir=str(tmp / "data"), output_dir=str(tmp / "output"))
    from sparky_assets.defs.metrics import MissingDaysError, measure_window

    # Its days 05-01 ... 05-05 were never collected: it says which, instead of inventing zeros.
    with pytest.raises(MissingDaysError, match="2024-05-01"):
        measure_window(store, session_org(), "weekly", "2024-04-29", table=None, history=None)


def test_git_log_itself_agrees_with_the_commit_count(world) -> None:
    """A sanity check of the independent parse: git's own count of the whole history."""
    _, repo, _ = world
    total = int(repo.git("rev-list", "--count", "--no-merges", "HEAD").strip())
    assert total == len(_git_log(repo))
    assert subprocess.run(["git", "--version"], capture_output=True).returncode == 0


# --- pure window arithmetic ------------------------------------------------------------------


def test_window_arithmetic_by_hand() -> None:
    from sparky_resources.clock import previous_key, window_dates

    assert make_window("daily", "2024-11-03", NY).hours == 25
    assert make_window("daily", "2025-03-09", NY).hours == 23
    assert make_window("daily", "2025-03-09", ZoneInfo("UTC")).hours == 24
    # February 2024 has 29 days; a month holding the fall-back day has one extra hour.
    assert window_dates("monthly", "2024-02-01") == (dt.date(2024, 2, 1), dt.date(2024, 3, 1))
    assert make_window("monthly", "2024-11-01", NY).hours == 30 * 24 + 1
    assert previous_key("monthly", "2025-01-01") == "2024-12-01"
    assert previous_key("monthly", "2025-03-01", 4) == "2024-11-01"
    assert previous_key("weekly", "2024-11-04") == "2024-10-28"
    assert previous_key("daily", "2024-03-01") == "2024-02-29"
    with pytest.raises(ValueError, match="not a Monday"):
        window_dates("weekly", "2024-10-29")
    with pytest.raises(ValueError, match="first day"):
        window_dates("monthly", "2024-10-02")


def test_change_by_hand() -> None:
    from sparky_assets.lib.window import WindowMetrics, change_against

    def metrics(**figures) -> WindowMetrics:
        base = dict(
            partition="k",
            commits=0,
            merges=0,
            active_contributors=0,
            human_contributors=0,
            bot_commits=0,
            lines_added=0,
            lines_deleted=0,
            files_changed=0,
            active_repos=0,
            per_repo=[],
            top_contributors=[],
        )
        return WindowMetrics(**(base | figures))

    now, before = metrics(commits=15, merges=3, prs_opened=4), metrics(commits=12, merges=0)
    change = change_against(now, before)
    # 15 vs 12: +3, +25.0 %; 3 vs 0: +3, no percent; prs_opened unknown before: nothing.
    assert change["commits"].model_dump() == {"previous": 12, "absolute": 3, "percent": 25.0}
    assert change["merges"].model_dump() == {"previous": 0, "absolute": 3, "percent": None}
    assert change["prs_opened"].model_dump() == {
        "previous": None,
        "absolute": None,
        "percent": None,
    }
    assert change_against(now, None)["commits"].absolute is None
