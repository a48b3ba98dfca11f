"""lib/team_scope.py: a team's cut of a window's records, worked by hand."""

from __future__ import annotations

import datetime as dt

from sparky_assets.lib.team_scope import covered_repos, ownership, team_inputs, team_names
from sparky_assets.lib.window import WindowInputs

SNAPSHOT = {
    "collected": True,
    "org": "acme",
    "teams": [{"slug": "Platform", "name": "Platform", "repos": ["infra"]}],
    "codeowners": {
        "api": {
            "repo": "api",
            "location": ".github/CODEOWNERS",
            "oid": "0" * 40,
            "text": "*  @acme/platform\n/web/  @acme/web\n*.md  @other-org/web\n",
        },
        "gone": None,
    },
}
CONFIG = {
    "docs": {"repos": [], "paths": ["docs/", "*.md"]},
    "web": {"repos": ["site-*"], "paths": []},
}


def _commit(repo: str, sha: str, paths: list[str] | None, day: int) -> dict:
    ts = int(dt.datetime(2024, 6, day, 12, tzinfo=dt.UTC).timestamp())
    return {"repo": repo, "sha": sha, "paths": paths, "committed_ts": ts, "is_merge": False}


def _inputs() -> WindowInputs:
    return WindowInputs(
        commits=[
            _commit("api", "1", ["web/app.js"], 3),
            _commit("api", "2", ["README.md"], 4),
            _commit("infra", "3", None, 4),  # GitHub's commit: no paths
            _commit("site-a", "4", ["index.html"], 5),
        ],
        pull_requests=[
            {"repo": "api", "number": 1, "files": ["web/a.js", "src/x.py"]},
            {"repo": "api", "number": 2, "files": None},
            {"repo": "site-a", "number": 3, "files": []},
        ],
        issues=[{"repo": "api", "number": 9}, {"repo": "infra", "number": 10}],
        repos=["api", "site-a"],
        day_commits={"2024-06-03": 1, "2024-06-04": 2, "2024-06-05": 1},
        days_collected=["2024-06-03", "2024-06-04", "2024-06-05"],
    )


def test_team_keys_are_the_configs_and_githubs_slugs() -> None:
    assert team_names(CONFIG, SNAPSHOT) == ["docs", "platform", "web"]


def test_codeowners_paths_decide_pull_requests_and_commits() -> None:
    owner = ownership(CONFIG, SNAPSHOT, "acme")
    web = team_inputs(_inputs(), owner, "web", dt.UTC)
    # commit 1 touches /web/ (CODEOWNERS: @acme/web); commit 4 is in site-* (config: whole repo)
    assert [c["sha"] for c in web.commits] == ["1", "4"]
    # PR 1 has web/a.js; PR 2's files are unknown and api is not web's whole; PR 3 is site-a
    assert [p["number"] for p in web.pull_requests] == [1, 3]
    assert web.day_commits == {"2024-06-03": 1, "2024-06-04": 0, "2024-06-05": 1}
    assert web.backlog is None
    # issues follow the repositories the team touched
    assert [i["number"] for i in web.issues] == [9]
    assert covered_repos(web) == {"api", "site-a"}


def test_another_orgs_team_owns_nothing_and_github_teams_own_their_repositories() -> None:
    owner = ownership(CONFIG, SNAPSHOT, "acme")
    docs = team_inputs(_inputs(), owner, "docs", dt.UTC)
    # README.md by the config's `*.md` (the @other-org line names no team of acme)
    assert [c["sha"] for c in docs.commits] == ["2"]
    platform = team_inputs(_inputs(), owner, "platform", dt.UTC)
    # api's `*` loses to later lines for web/app.js (/web/) and README.md (*.md): the last
    # matching pattern wins; infra is the team's GitHub repository, whole
    assert [c["sha"] for c in platform.commits] == ["3"]
    # PR 1's src/x.py matches only `*`; PR 2's files are unknown
    assert [p["number"] for p in platform.pull_requests] == [1]
    assert [i["number"] for i in platform.issues] == [9, 10]
