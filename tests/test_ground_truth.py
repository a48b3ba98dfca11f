"""The fake org's independent DORA ground truth (`fakes.ground_truth`) on hand-worked cases.

Tiny organizations built by hand, each number worked out in the comments; then the incidents
`build_org` adds (issue 20), served by the fake GitHub's search with their labels.
"""

from __future__ import annotations

import random
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
from fakes.github_org import (
    Account,
    Commit,
    Deployment,
    DeploymentStatus,
    FileChange,
    GitActor,
    Issue,
    Org,
    PullRequest,
    Repository,
    Team,
    build_org,
)
from fakes.github_server import FakeGitHub
from fakes.ground_truth import (
    DoraTruth,
    deployment_state,
    dora_truth,
    local_days,
    p90,
    team_pull_requests,
    team_repos,
)

ANN = Account("ann", 1, "User", "Ann", "ann@tiny.example")
BOT = Account("github-actions[bot]", 2, "Bot", "github-actions[bot]", "bot@x.example")
T0 = datetime(2024, 6, 3, tzinfo=UTC)  # the day the UTC windows below cover
DAY = T0.date()
_ids = iter(range(100, 100_000))


def at(hours: float, day: datetime = T0) -> datetime:
    return day + timedelta(hours=hours)


def commit(
    repo: str,
    sha: str,
    parents: list[str],
    authored: datetime,
    committed: datetime | None = None,
    message: str = "Change",
) -> Commit:
    sha = sha.ljust(40, "0")
    who = GitActor("Ann", ANN.email, authored, timedelta(0), ANN)
    by = GitActor("Ann", ANN.email, committed or authored, timedelta(0), ANN)
    return Commit(repo, sha, [p.ljust(40, "0") for p in parents], who, by, message, [])


def deploy(repo: str, sha: str, created: datetime, *statuses: tuple[str, datetime]) -> Deployment:
    d = Deployment(repo, next(_ids), "production", sha.ljust(40, "0"), created, BOT)
    d.statuses = [DeploymentStatus(next(_ids), s, t) for s, t in statuses]
    return d


def repo(name: str, commits: list[Commit], deps: list[Deployment]) -> Repository:
    old = datetime(2020, 1, 1, tzinfo=UTC)
    r = Repository("tiny", next(_ids), name, "", old, old, old)
    r.commits = sorted(commits, key=lambda c: c.committed_at, reverse=True)  # newest first
    r.deployments = deps
    return r


def tiny(*repos: Repository, tz: str = "UTC", day: date = DAY, days: int = 1) -> Org:
    return Org("tiny", 9, tz, day, days, {"ann": ANN}, list(repos), 0)


def issue(r: str, opened: datetime, closed: datetime | None, labels: list[str]) -> Issue:
    n = next(_ids)
    iss = Issue(r, n, n, "Down", "", ANN, opened, labels=labels)
    if closed is not None:
        iss.state, iss.closed_at = "closed", closed
    return iss


def test_a_failed_deployment_restored_four_hours_later() -> None:
    # c1 authored 06-02 20:00, shipped by D0 at 06-02 22:10 (the day before: not this window).
    # c2 authored 07:00; D1 (sha c2) fails at 08:10; D2 (sha c2) succeeds at 12:10.
    c1 = commit("app", "c1", [], at(-4))
    c2 = commit("app", "c2", ["c1"], at(7))
    d0 = deploy("app", "c1", at(-2), ("in_progress", at(-2 + 1 / 60)), ("success", at(-2 + 1 / 6)))
    d1 = deploy("app", "c2", at(8), ("in_progress", at(8 + 1 / 60)), ("failure", at(8 + 1 / 6)))
    d2 = deploy("app", "c2", at(12), ("in_progress", at(12 + 1 / 60)), ("success", at(12 + 1 / 6)))
    org = tiny(repo("app", [c1, c2], [d0, d1, d2]))
    got = dora_truth(org, T0, at(24))
    # One success (D2) in a one-day window: 1.0 a day. c2: 07:00 -> 12:10 = 5 h 10 min.
    # Finished D1, D2; failed D1: 1/2. D1 failed at 08:10, D2 succeeded 12:10: 4 h.
    assert got == DoraTruth(
        deployments=1,
        by_repo={"app": 1},
        per_day=1.0,
        lead_times_h=[5 + 10 / 60],
        lead_time_median_h=5.17,
        lead_time_p90_h=5.17,
        finished=2,
        failed=1,
        failure_rate=0.5,
        restore_h=[4.0],
        restore_median_h=4.0,
        restore_p90_h=4.0,
        restore_open=0,
    )
    # The day before: D0 shipped c1 (20:00 -> 22:10 = 2 h 10 min), nothing failed.
    before = dora_truth(org, at(-24), T0)
    assert (before.deployments, before.lead_times_h, before.failed) == (1, [2 + 10 / 60], 0)
    # Without D2 the failure is not restored inside the window: open.
    org.repos[0].deployments = [d0, d1]
    assert dora_truth(org, T0, at(24)).restore_open == 1


def test_a_reverted_change_fails_its_first_deployment_unless_reverted_before_it() -> None:
    # c1 authored 00:30, D1 (c1) succeeds 02:00; r1 reverts c1, committed 05:00 (after D1);
    # D2 (r1) succeeds 06:00. c3 authored 06:00; r3 reverts c3, committed 07:30, before any
    # deployment holds c3; D3 (r3, which contains c3) succeeds 08:00: not a failure.
    c1 = commit("app", "c1", [], at(0.5))
    r1 = commit(
        "app",
        "r1",
        ["c1"],
        at(5),
        message=f'Revert "Change"\n\nThis reverts commit {"c1".ljust(40, "0")}.',
    )
    c3 = commit("app", "c3", ["r1"], at(6))
    r3 = commit(
        "app",
        "r3",
        ["c3"],
        at(7.5),
        message=f"Revert\n\nThis reverts commit {'c3'.ljust(40, '0')}.",
    )
    d1 = deploy("app", "c1", at(1.9), ("success", at(2)))
    d2 = deploy("app", "r1", at(5.9), ("success", at(6)))
    d3 = deploy("app", "r3", at(7.9), ("success", at(8)))
    got = dora_truth(tiny(repo("app", [c1, r1, c3, r3], [d1, d2, d3])), T0, at(24))
    # Lead times: c1 1.5 h, r1 1 h, c3 2 h, r3 0.5 h -> [0.5, 1, 1.5, 2]; median 1.25;
    # p90 at position 3 * 0.9 = 2.7: 1.5 + 0.7 * (2 - 1.5) = 1.85.
    assert got.lead_times_h == [0.5, 1.0, 1.5, 2.0]
    assert (got.lead_time_median_h, got.lead_time_p90_h) == (1.25, 1.85)
    # Three successes, all finished; only D1 failed (reverted after it shipped): 1/3.
    assert (got.deployments, got.finished, got.failed, got.failure_rate) == (3, 3, 1, 0.333)
    # A revert is no outage: nothing to restore.
    assert (got.restore_h, got.restore_median_h, got.restore_open) == ([], None, 0)


def test_incidents_fail_the_latest_deployment_before_them_and_time_the_restore() -> None:
    # D0 succeeds the day before (22:00); D1 succeeds 03:00; D2 succeeds 05:00.
    c1 = commit("app", "c1", [], at(-3))
    d0 = deploy("app", "c1", at(-2.1), ("success", at(-2)))
    d1 = deploy("app", "c1", at(2.9), ("success", at(3)))
    d2 = deploy("app", "c1", at(4.9), ("success", at(5)))
    r = repo("app", [c1], [d0, d1, d2])
    r.issues = [
        issue("app", at(6), at(9.5), ["incident"]),  # -> D2; restored in 3.5 h
        issue("app", at(4), at(4.5), ["bug"]),  # not an incident
        issue("app", at(-1), at(1), ["incident"]),  # opened the day before -> D0, not timed
        issue("app", at(20), at(26), ["Incident"]),  # labels match in any case; closed after
        # the end: open
    ]
    pr = PullRequest("app", 7, 7, "Hotfix", "", ANN, at(3), "hotfix", "main", "h" * 40, 1, 1, 1, 1)
    pr.state, pr.closed_at, pr.merged_at, pr.labels = "closed", at(4.5), at(4.5), ["incident"]
    r.pulls = [pr]  # opened exactly when D1 happened ("at or before"): -> D1; 1.5 h
    got = dora_truth(tiny(r), T0, at(24))
    # In the window: D1, D2 finished, both failed (the 20:00 incident also points at D2).
    assert (got.deployments, got.finished, got.failed, got.failure_rate) == (2, 2, 2, 1.0)
    assert got.restore_h == [1.5, 3.5] and got.restore_open == 1
    # median of [1.5, 3.5] = 2.5; p90 at position 0.9: 1.5 + 0.9 * 2 = 3.3.
    assert (got.restore_median_h, got.restore_p90_h) == (2.5, 3.3)
    before = dora_truth(tiny(r), at(-24), T0)
    # The day before: D0 failed by the incident opened at 23:00, closed after that day: open.
    assert (before.finished, before.failed, before.restore_open) == (1, 1, 1)
    # With other incident labels ("sev1", which nothing carries): no incident at all.
    other = dora_truth(tiny(r), T0, at(24), incident_labels=("sev1",))
    assert (other.failed, other.restore_h, other.restore_open) == (0, [], 0)


def test_an_incident_links_to_when_a_deployment_happened_not_when_it_was_created() -> None:
    # D1 succeeds 03:00. D2 was created 05:50 but succeeds only at 06:10; an incident opened at
    # 06:00 links to D1, the latest deployment that had happened by then.
    c1 = commit("app", "c1", [], at(1))
    d1 = deploy("app", "c1", at(2.9), ("success", at(3)))
    d2 = deploy("app", "c1", at(5 + 50 / 60), ("in_progress", at(5.9)), ("success", at(6 + 1 / 6)))
    r = repo("app", [c1], [d1, d2])
    r.issues = [issue("app", at(6), None, ["incident"])]  # never closed: open
    got = dora_truth(tiny(r), T0, at(24))
    assert (got.finished, got.failed, got.restore_open) == (2, 1, 1)
    r.issues[0].created_at = at(6.5)  # now D2 had happened: it is the one that failed
    assert dora_truth(tiny(r), T0, at(24)).failed == 1


def test_a_deployment_across_new_yorks_dst_change() -> None:
    # 2024-11-03 in America/New_York has 25 hours: 04:00Z (00:00 EDT) to 05:00Z next day
    # (00:00 EST). c1 authored 00:30 EDT (04:30Z); its deployment starts 01:50 EDT (05:50Z)
    # and succeeds 01:40 EST (06:40Z), after the clocks went back at 02:00 EDT: 2 h 10 min,
    # though the wall clocks say 1 h 10 min. c2 authored 22:00
    # EST (03:00Z 11-04), deployed 23:30 EST (04:30Z 11-04): still that local day; 1.5 h.
    ny = ZoneInfo("America/New_York")
    start = datetime(2024, 11, 3, tzinfo=ny).astimezone(UTC)
    end = datetime(2024, 11, 4, tzinfo=ny).astimezone(UTC)
    assert (start.hour, end - start) == (4, timedelta(hours=25))
    c1 = commit("app", "c1", [], datetime(2024, 11, 3, 4, 30, tzinfo=UTC))
    c2 = commit("app", "c2", ["c1"], datetime(2024, 11, 4, 3, tzinfo=UTC))
    d1 = deploy("app", "c1", datetime(2024, 11, 3, 5, 50, tzinfo=UTC))
    d1.statuses = [
        DeploymentStatus(1, "in_progress", datetime(2024, 11, 3, 5, 51, tzinfo=UTC)),
        DeploymentStatus(3, "success", datetime(2024, 11, 3, 6, 40, tzinfo=UTC)),
    ]
    assert d1.statuses[-1].created_at.astimezone(ny).strftime("%H:%M %Z") == "01:40 EST"
    d2 = deploy("app", "c2", datetime(2024, 11, 4, 4, 20, tzinfo=UTC))
    d2.statuses = [DeploymentStatus(2, "success", datetime(2024, 11, 4, 4, 30, tzinfo=UTC))]
    org = tiny(repo("app", [c1, c2], [d1, d2]), tz="America/New_York", day=date(2024, 11, 3))
    assert org.window() == (start, end)
    got = dora_truth(org, start, end)
    # Two deployments in one local day: 2.0 a day. [1.5, 2.1667]: median 1.83;
    # p90 = 1.5 + 0.9 * (2.1667 - 1.5) = 2.1.
    assert (got.deployments, got.per_day) == (2, 2.0)
    assert got.lead_times_h == pytest.approx([1.5, 2 + 10 / 60])
    assert (got.lead_time_median_h, got.lead_time_p90_h) == (1.83, 2.1)
    # The week around it has 169 hours but 7 days: 2 / 7 = 0.286 a day.
    w0, w1 = org.window(day=date(2024, 10, 28), days=7)
    assert w1 - w0 == timedelta(hours=169) and local_days(org.tz, w0, w1) == 7
    assert dora_truth(org, w0, w1).per_day == 0.286
    # The 23:30 EST deployment (04:30Z on 11-04) belongs to 11-03; the next local day has none.
    assert dora_truth(org, *org.window(day=date(2024, 11, 4))).deployments == 0


def test_a_change_deployed_twice_counts_once_from_its_earliest_deployment() -> None:
    # c1 authored 10:00. Da (sha c1) created 10:00, succeeds 11:30; Db (sha c1) created 10:30,
    # succeeds 10:45: the earliest to happen is Db -> 0.75 h, not 1.5 h (created order).
    # c2 authored 12:00, a merge m of c2 into c1 at 12:20, D3 (sha m) succeeds 13:00: c2 is
    # 1 h, c1 is not counted again, the merge is no change. c3 authored 14:00 (a clock ahead)
    # committed 12:40 on top of m, shipped by D4 at 13:30: negative, so 0.
    c1 = commit("app", "c1", [], at(10))
    c2 = commit("app", "c2", ["c1"], at(12))
    m = commit("app", "m", ["c1", "c2"], at(12 + 1 / 3), message="Merge pull request #2")
    c3 = commit("app", "c3", ["m"], at(14), committed=at(12 + 2 / 3))
    da = deploy("app", "c1", at(10), ("in_progress", at(10.1)), ("success", at(11.5)))
    db = deploy("app", "c1", at(10.5), ("success", at(10.75)))
    d3 = deploy("app", "m", at(12.9), ("success", at(13)))
    d4 = deploy("app", "c3", at(13.4), ("success", at(13.5)))
    got = dora_truth(tiny(repo("app", [c1, c2, m, c3], [da, db, d3, d4])), T0, at(24))
    assert got.lead_times_h == [0.0, 0.75, 1.0]
    assert (got.lead_time_median_h, got.lead_time_p90_h) == (0.75, 0.95)  # 0.75 + 0.8 * 0.25
    assert got.deployments == 4 and got.per_day == 4.0
    # First shipped the day before (Db at 23:45 on 06-02): not this window's change.
    c0 = commit("app", "c0", [], at(-1))
    d0 = deploy("app", "c0", at(-0.5), ("success", at(-0.25)))
    d5 = deploy("app", "c0", at(1), ("success", at(2)))
    assert dora_truth(tiny(repo("app", [c0], [d0, d5])), T0, at(24)).lead_times_h == []


def test_states_unfinished_inactive_and_other_environments() -> None:
    c1 = commit("app", "c1", [], at(1))
    ok = deploy("app", "c1", at(2), ("success", at(2.1)), ("inactive", at(3)))
    running = deploy("app", "c1", at(4), ("queued", at(4.1)), ("in_progress", at(4.2)))
    bare = deploy("app", "c1", at(5))
    staging = deploy("app", "c1", at(6), ("failure", at(6.1)))
    staging.environment = "staging"
    assert deployment_state(ok) == ("success", at(2.1))  # inactive says nothing: success
    assert deployment_state(running) is None and deployment_state(bare) is None
    org = tiny(repo("app", [c1], [ok, running, bare, staging]))
    got = dora_truth(org, T0, at(24))
    assert (got.deployments, got.finished, got.failed, got.restore_open) == (1, 1, 0, 0)
    st = dora_truth(org, T0, at(24), environment="staging")
    assert (st.deployments, st.per_day, st.finished, st.failed, st.failure_rate) == (
        0,
        None,
        1,
        1,
        1.0,
    )
    assert st.restore_open == 1 and st.lead_times_h == []  # nothing shipped c1 to staging
    empty = dora_truth(tiny(repo("app", [c1], [])), T0, at(24))
    assert empty == DoraTruth()  # no rate, no median, no failure rate: None, not 0


def test_p90_is_numpys_default_linear_percentile() -> None:
    # numpy.percentile([1, 2, 3, 4, 10], 90): position 4 * 0.9 = 3.6 -> 4 + 0.6 * 6 = 7.6
    assert p90([10, 1, 3, 2, 4]) == pytest.approx(7.6)
    assert p90([5.0]) == 5.0 and p90([1.0, 2.0]) == pytest.approx(1.9)
    np = pytest.importorskip("numpy")  # when installed (not a dependency): numpy agrees
    rng = random.Random(20)
    for n in range(1, 40):
        xs = [rng.uniform(0, 100) for _ in range(n)]
        assert p90(xs) == pytest.approx(float(np.percentile(xs, 90)))


def test_team_pull_requests_by_repository_or_codeowners() -> None:
    # Team web has repository app; lib's CODEOWNERS: * -> core, /web/ -> web (last match wins).
    app, lib = repo("app", [], []), repo("lib", [], [])
    lib.codeowners = {".github/CODEOWNERS": "*  @tiny/core\n/web/  @tiny/web\n"}

    def pr(r: Repository, n: int, *files: str, merged: bool = False) -> PullRequest:
        p = PullRequest(r.name, n, n, "t", "", ANN, T0, "b", "main", "h" * 40, 1, 0, 1, 1)
        p.files = [FileChange(f, 1, 0, "modified") for f in files]
        p.merged_at = T0 if merged else None
        r.pulls.append(p)
        return p

    a1 = pr(app, 1, "README.md")
    l1 = pr(lib, 2, "src/a.py", "web/x.ts", merged=True)
    l2 = pr(lib, 3, "src/b.py")
    org = tiny(app, lib)
    org.teams = [Team(1, "web", "Web", ("app",)), Team(2, "core", "Core", ())]
    assert team_repos(org, "web") == ["app"] and team_repos(org, "core") == []
    assert team_pull_requests(org, "web") == [a1, l1]  # by repository; by web/x.ts
    assert team_pull_requests(org, "core") == [l1, l2]  # src/a.py and src/b.py: `*`
    with pytest.raises(KeyError):
        team_repos(org, "nobody")


# --------------------------------------------------------------------------------------------
# The incidents build_org adds


@pytest.fixture(scope="module")
def org() -> Org:
    return build_org()


def test_build_org_has_the_specified_incidents(org: Org) -> None:
    w0, w1 = org.window()  # 2024-06-02 22:00Z .. 2024-06-03 22:00Z (a Berlin day)
    inc = [x for x in [*org.issues(), *org.pull_requests()] if "incident" in x.labels]
    prod = {d.repo for r in org.repos for d in r.deployments if d.environment == "production"}
    assert inc and {x.repo for x in inc} <= prod
    assert all(x.author.type == "User" for x in inc)  # people, not bots
    issues = [x for x in inc if isinstance(x, Issue)]
    inside = [x for x in issues if w0 <= x.created_at and x.closed_at and x.closed_at < w1]
    assert len(inside) >= 2
    assert [x.repo for x in issues if w0 <= x.created_at < w1 <= x.closed_at] == ["design"]
    assert [x.repo for x in issues if x.created_at < w0] == ["vault"]
    bug = [x for x in org.issues() if x.labels == ["bug"] and w0 <= x.created_at < w1]
    assert [(x.repo, x.title) for x in bug] == [("design", "Typo on the settings page")]
    (pr,) = [x for x in inc if isinstance(x, PullRequest)]
    assert pr.repo == "portal" and pr.merged and w0 <= pr.created_at < pr.merged_at < w1
    assert pr.files and pr.changed_files == len(pr.files)
    assert pr.additions == sum(f.additions for f in pr.files)
    for name in {x.repo for x in [*inc, *bug]}:  # numbered after every older item, unique
        r = org.repo(name)
        assert r is not None
        numbers = [x.number for x in (*r.issues, *r.pulls)]
        assert sorted(numbers) == list(range(1, len(numbers) + 1))


def test_build_org_incidents_are_served_by_search_with_their_labels(org: Org) -> None:
    w0, w1 = org.window()
    with FakeGitHub(org, latency_s=0.0) as gh, httpx.Client(base_url=gh.base_url) as c:
        c.headers["Authorization"] = "Bearer t"
        q = f"org:acme label:incident created:{w0:%Y-%m-%dT%H:%M:%SZ}..{w1:%Y-%m-%dT%H:%M:%SZ}"
        body = c.get("/search/issues", params={"q": q, "per_page": 100}).json()
        gql = c.post(
            "/graphql",
            json={
                "query": 'query { search(query: "org:acme label:incident", type: ISSUE, first: 50)'
                " { issueCount nodes { __typename ... on PullRequest { files(first: 10)"
                " { totalCount } } } } }"
            },
        ).json()["data"]["search"]
        assert gh.internal_errors == []
    # GraphQL, any time: the four incident issues (one opened before the window) and the PR.
    kinds = sorted(n["__typename"] for n in gql["nodes"])
    assert gql["issueCount"] == 5 and kinds == ["Issue"] * 4 + ["PullRequest"]
    assert [n["files"]["totalCount"] for n in gql["nodes"] if n.get("files")] == [2]
    got = {
        (i["repository_url"].rsplit("/", 1)[1], i["number"], "pull_request" in i)
        for i in body["items"]
    }
    # Opened in the window: vault 1, design 2 (one still open at the end), portal's PR.
    truth = {
        (x.repo, x.number, isinstance(x, PullRequest))
        for x in [*org.issues(), *org.pull_requests()]
        if "incident" in x.labels and w0 <= x.created_at < w1
    }
    assert got == truth and len(got) == 4
    assert all("incident" in {lb["name"] for lb in i["labels"]} for i in body["items"])


def test_dora_truth_of_the_default_org_worked_by_hand(org: Org) -> None:
    # Production deployments happening in the window (their final status, UTC, 06-03 unless
    # said), read off the fake's data:
    #   vault   error 06-02 23:06, failure 00:08, success 02:07, 06:35, 16:11:54
    #   ops     failure 04:45:12 (next success 06-04 16:23: after the end)
    #   design  success 07:40:38, 11:00:07, 12:52:54, 21:55:04
    #   portal  success 02:29:25, 03:46:49
    #   crawler success 00:49:33, 19:16:11, 21:00:36
    # Incidents: vault 07:05-09:09 (-> 06:35), design 08:04-10:48 (-> 07:40:38), design
    # 18:49-06-04 03:59 (-> 12:52:54; open at the end), portal PR 04:04-05:24 (-> 03:46:49),
    # vault 06-01 22:04 (before the window: neither timed nor failing one of these).
    got = dora_truth(org, *org.window())
    assert got.by_repo == {"vault": 3, "design": 4, "portal": 2, "crawler": 3}
    assert (got.deployments, got.per_day) == (12, 12.0)
    # finished 5 + 1 + 4 + 2 + 3; failed: vault 2 + 1 incident, ops 1, design 2, portal 1.
    assert (got.finished, got.failed, got.failure_rate) == (15, 7, 0.467)
    # Restores: error 23:06 -> 02:07 and failure 00:08 -> 02:07; the three incidents closed
    # in the window; ops' failure and design's last incident are open.
    assert got.restore_h == pytest.approx(
        sorted([3 + 1 / 60, 1 + 59 / 60, 2 + 4 / 60, 2 + 44 / 60, 1 + 20 / 60])
    )
    assert got.restore_open == 2
    # median 2.0667; p90 at 3.6: 2.7333 + 0.6 * (3.0167 - 2.7333) = 2.9033
    assert (got.restore_median_h, got.restore_p90_h) == (2.07, 2.9)
