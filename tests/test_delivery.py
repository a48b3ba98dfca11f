"""lib/delivery.py: raw records to DORA's inputs, worked by hand.

The figures themselves are lib/dora.py's (tests/test_dora.py); these cases check what the
stored records become: a GitHub deployment's status history, releases and tags as deployments,
which commits a deployment contains, reverts and incidents.
"""

from __future__ import annotations

import datetime as dt
from zoneinfo import ZoneInfo

from sparky_assets.lib.delivery import (
    DeliveryRecords,
    DoraSettings,
    dora_figures,
    dora_inputs,
)

NY = ZoneInfo("America/New_York")
START = dt.datetime(2024, 11, 1, tzinfo=NY)  # the week holding the DST change (3 Nov)
END = dt.datetime(2024, 11, 8, tzinfo=NY)


def _commit(sha: str, parents: list[str], authored: str, *, reverts: str | None = None) -> dict:
    return {
        "repo": "api",
        "sha": sha,
        "parents": parents,
        "authored_at": authored,
        "committed_at": authored,
        "is_merge": len(parents) > 1,
        "reverts": reverts,
    }


def _deployment(id_: str, sha: str, created: str, *statuses: tuple[str, str]) -> dict:
    return {
        "repo": "api",
        "id": id_,
        "environment": "production",
        "sha": sha,
        "created_at": created,
        "statuses": [{"state": s, "created_at": t} for s, t in statuses],
    }


# a <- b <- m(merge of b and c) ; c branches from a
COMMITS = [
    _commit("a", [], "2024-10-30T10:00:00Z"),
    _commit("b", ["a"], "2024-11-02T12:00:00Z"),
    _commit("c", ["a"], "2024-11-02T13:00:00Z"),
    _commit("m", ["b", "c"], "2024-11-02T14:00:00Z"),
    _commit("r", ["m"], "2024-11-04T09:00:00Z", reverts="c"),
]


def test_a_deployments_latest_meaningful_status_counts_and_inactive_is_ignored() -> None:
    records = DeliveryRecords(
        deployments=[
            # success then inactive (superseded): a success at 15:10
            _deployment(
                "1",
                "a",
                "2024-11-02T15:00:00Z",
                ("in_progress", "2024-11-02T15:01:00Z"),
                ("success", "2024-11-02T15:10:00Z"),
                ("inactive", "2024-11-05T00:00:00Z"),
            ),
            # still waiting for an approval: unfinished, counts nowhere
            _deployment("2", "m", "2024-11-03T10:00:00Z", ("waiting", "2024-11-03T10:01:00Z")),
            # staging: another environment
            {
                **_deployment(
                    "3", "m", "2024-11-03T11:00:00Z", ("success", "2024-11-03T11:05:00Z")
                ),
                "environment": "staging",
            },
        ],
        commits=COMMITS,
        github=True,
    )
    inputs = dora_inputs(records, DoraSettings(source="deployments"))
    assert [(d.id, d.status) for d in inputs.deployments] == [("1", "success"), ("2", "pending")]
    first = inputs.deployments[0]
    assert first.at == dt.datetime(2024, 11, 2, 15, 10, tzinfo=dt.UTC)
    assert first.changes == {"a"}
    figures = dora_figures(records, DoraSettings(source="deployments"), START, END)
    assert figures.overall.deployments == 1
    # 7 local days although the week has 169 hours (DST ends on 3 Nov)
    assert figures.overall.per_day == round(1 / 7, 3)
    # change a: 30 Oct 10:00 -> 2 Nov 15:10 = 3 d 5 h 10 min = 77.17 h
    assert figures.overall.lead_time.count == 1
    assert figures.overall.lead_time.median_h == 77.17


def test_a_deployment_contains_what_its_sha_reaches_through_both_parents() -> None:
    records = DeliveryRecords(
        deployments=[
            _deployment("1", "a", "2024-11-01T15:00:00Z", ("success", "2024-11-01T15:00:00Z")),
            _deployment("2", "m", "2024-11-03T20:00:00Z", ("success", "2024-11-03T20:00:00Z")),
            _deployment("3", "r", "2024-11-04T10:00:00Z", ("failure", "2024-11-04T10:30:00Z")),
            _deployment("4", "r", "2024-11-04T11:00:00Z", ("success", "2024-11-04T12:30:00Z")),
        ],
        commits=COMMITS,
        github=True,
    )
    inputs = dora_inputs(records, DoraSettings(source="deployments"))
    by_id = {d.id: d for d in inputs.deployments}
    assert by_id["2"].changes == {"a", "b", "c", "m"}
    assert by_id["4"].changes == {"a", "b", "c", "m", "r"}
    assert {c.sha for c in inputs.changes} == {"a", "b", "c", "r"}  # the merge is no change
    assert [(r.reverted_sha, r.repo) for r in inputs.reverts] == [("c", "api")]
    row = dora_figures(records, DoraSettings(source="deployments"), START, END).overall
    assert row.deployments == 3  # 1, 2 and 4 succeeded in the window
    # lead times (hours): a 30 Oct 10:00 -> 1 Nov 15:00 = 53; b 2 Nov 12:00 -> 3 Nov 20:00 = 32;
    # c 13:00 -> 31; r 4 Nov 09:00 -> 12:30 = 3.5. Median of [3.5, 31, 32, 53] = 31.5
    assert row.lead_time.count == 4
    assert row.lead_time.median_h == 31.5
    # failed: 3 (failure) and 2 (first to ship c, which r reverted after it): 2 of 4 finished
    assert (row.failure.failed, row.failure.deployments, row.failure.rate) == (2, 4, 0.5)
    # restore: 3 failed at 10:30, next success 12:30: 2 h
    assert row.restore.timed.count == 1 and row.restore.timed.median_h == 2.0
    assert row.bands["change_failure_rate"] == "low"
    assert row.bands["time_to_restore"] == "high"


def test_releases_leave_prereleases_out_and_tags_follow_the_pattern() -> None:
    releases = [
        {"repo": "api", "kind": "release", "tag_name": "v1.0", "sha": "a",
         "published_at": "2024-11-02T10:00:00Z", "is_prerelease": False},
        {"repo": "api", "kind": "release", "tag_name": "v1.1-rc1", "sha": "b",
         "published_at": "2024-11-03T10:00:00Z", "is_prerelease": True},
        {"repo": "api", "kind": "tag", "tag_name": "v1.0", "sha": "a",
         "published_at": "2024-11-02T09:00:00Z", "is_prerelease": False},
        {"repo": "api", "kind": "tag", "tag_name": "nightly-3", "sha": "m",
         "published_at": "2024-11-03T09:00:00Z", "is_prerelease": False},
    ]  # fmt: skip
    local_tags = [
        {"repo": "api", "name": "v1.0", "sha": "a", "date": "2024-11-02T09:00:00Z"},
        {"repo": "api", "name": "2.0", "sha": "r", "date": "2024-11-04T10:00:00Z"},
    ]
    records = DeliveryRecords(releases=releases, local_tags=local_tags, commits=COMMITS)
    by_release = dora_inputs(records, DoraSettings(source="releases")).deployments
    assert [(d.sha, d.source) for d in by_release] == [("a", "release")]
    by_tag = dora_inputs(records, DoraSettings(source="tags")).deployments
    # v1.0 once (GitHub's tag and the clone's are one), 2.0 from the clone, nightly-3 not a version
    assert sorted(d.sha for d in by_tag) == ["a", "r"]


def test_an_incident_fails_the_deployment_before_it_and_is_timed_to_its_close() -> None:
    records = DeliveryRecords(
        deployments=[
            _deployment("1", "a", "2024-11-01T15:00:00Z", ("success", "2024-11-01T15:00:00Z")),
            _deployment("2", "b", "2024-11-02T15:00:00Z", ("success", "2024-11-02T15:00:00Z")),
        ],
        commits=COMMITS,
        items=[
            # the record read later (a later day's file) holds the close
            {
                "repo": "api",
                "number": 7,
                "labels": ["Incident"],
                "created_at": "2024-11-02T16:00:00Z",
                "closed_at": None,
            },
            {
                "repo": "api",
                "number": 7,
                "labels": ["Incident"],
                "created_at": "2024-11-02T16:00:00Z",
                "closed_at": "2024-11-02T19:30:00Z",
            },
            {
                "repo": "api",
                "number": 8,
                "labels": ["bug"],
                "created_at": "2024-11-02T16:00:00Z",
                "closed_at": None,
            },
        ],
        github=True,
    )
    row = dora_figures(records, DoraSettings(source="deployments"), START, END).overall
    assert (row.failure.failed, row.failure.deployments) == (1, 2)
    assert row.restore.timed.count == 1 and row.restore.timed.median_h == 3.5
    assert row.restore.open == 0


def test_a_team_sees_only_its_repositories() -> None:
    other = [{**c, "repo": "web"} for c in COMMITS]
    records = DeliveryRecords(
        deployments=[
            _deployment("1", "a", "2024-11-02T15:00:00Z", ("success", "2024-11-02T15:00:00Z")),
            {
                **_deployment(
                    "9", "a", "2024-11-02T15:00:00Z", ("success", "2024-11-02T16:00:00Z")
                ),
                "repo": "web",
            },
        ],
        commits=[*COMMITS, *other],
        github=True,
    )
    settings = DoraSettings(source="deployments")
    assert dora_figures(records, settings, START, END).overall.deployments == 2
    web = dora_figures(records, settings, START, END, repos={"web"})
    assert web.overall.deployments == 1 and list(web.by_repo) == ["web"]
