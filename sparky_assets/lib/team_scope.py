"""One team's share of a window's raw records (pure): what a team digest is computed from.

Ownership (`lib/teams.Ownership`) comes from `[teams.<name>]` and, with `[teams].from_github`,
from the org's GitHub teams (a team owns the repositories GitHub lists for it) and each
repository's CODEOWNERS (`@org/team` owners of a path). Team keys are slugs: a config team
and the GitHub team of the same slug are one team.

What a team owns in a window:
* a pull request when the team owns its repository or any file it changed (its `files`;
  where they were not collected, its repository alone decides);
* a commit when the team owns its repository or any path it changed (a clone's numstat;
  GitHub's commits carry no paths, so their repository alone decides);
* issues, releases, tags and deployments of the team's repositories: those it owns whole,
  and those where it owns a pull request or commit of the window (an issue has no files).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import replace
from typing import Any

from sparky_assets.lib.teams import Ownership, Team
from sparky_assets.lib.window import WindowInputs

OWNERSHIP = "raw_ownership"  # data/raw/raw_ownership/<day>.json: teams and CODEOWNERS


def ownership(
    config_teams: Mapping[str, Mapping[str, Sequence[str]]],
    snapshot: Mapping[str, Any] | None,
    org: str | None,
) -> Ownership:
    """Config teams plus a `raw_ownership` snapshot's GitHub teams and CODEOWNERS files."""
    teams = [
        Team(name, list(spec.get("repos") or []), list(spec.get("paths") or []))
        for name, spec in config_teams.items()
    ]
    codeowners: dict[str, dict[str, str]] = {}
    if snapshot:
        for team in snapshot.get("teams") or []:
            # Repository names are plain ([A-Za-z0-9._-]): as globs they match themselves.
            teams.append(Team(str(team["slug"]).lower(), list(team.get("repos") or [])))
        for repo, record in (snapshot.get("codeowners") or {}).items():
            if record:
                codeowners[repo] = {record["location"]: record["text"]}
    return Ownership(teams, codeowners, org=org)


def team_names(config_teams: Mapping[str, Any], snapshot: Mapping[str, Any] | None) -> list[str]:
    """Every team key, sorted: config teams and the snapshot's GitHub teams."""
    names = set(config_teams)
    for team in (snapshot or {}).get("teams") or []:
        names.add(str(team["slug"]).lower())
    return sorted(names)


def _owned_repos(owner: Ownership, team: str, repos: Iterable[str]) -> set[str]:
    """Repositories the team owns whole (no path needed)."""
    return {r for r in repos if team in owner.teams_of_paths(r, [])}


def team_inputs(inputs: WindowInputs, owner: Ownership, team: str, tz: dt.tzinfo) -> WindowInputs:
    """`inputs` cut to what `team` owns (see the module docstring)."""
    everywhere = {
        *inputs.repos,
        *(c["repo"] for c in inputs.commits),
        *(p["repo"] for p in [*inputs.pull_requests, *inputs.lookback_pull_requests]),
        *(i["repo"] for i in [*inputs.issues, *inputs.lookback_issues]),
    }
    repos = _owned_repos(owner, team, everywhere)

    def pr_owned(pr: Mapping[str, Any]) -> bool:
        return pr["repo"] in repos or team in owner.teams_of_pull_request(
            pr["repo"], list(pr.get("files") or [])
        )

    def commit_owned(c: Mapping[str, Any]) -> bool:
        return c["repo"] in repos or team in owner.teams_of_commit(
            c["repo"], list(c.get("paths") or [])
        )

    commits = [c for c in inputs.commits if commit_owned(c)]
    pulls = [p for p in inputs.pull_requests if pr_owned(p)]
    lookback_pulls = [p for p in inputs.lookback_pull_requests if pr_owned(p)]
    touched = repos | {c["repo"] for c in commits} | {p["repo"] for p in pulls}
    day_commits = {day: 0 for day in inputs.day_commits}
    for c in commits:
        day = dt.datetime.fromtimestamp(c["committed_ts"], tz).date().isoformat()
        if day in day_commits and not c.get("is_merge"):
            day_commits[day] += 1
    return replace(
        inputs,
        commits=commits,
        pull_requests=pulls,
        issues=[i for i in inputs.issues if i["repo"] in touched],
        releases=[r for r in inputs.releases if r["repo"] in touched],
        backlog=None,  # GitHub's open counts are the org's: a team's are not asked
        repos=sorted(r for r in inputs.repos if r in touched),
        day_commits=day_commits,
        lookback_pull_requests=lookback_pulls,
        lookback_issues=[i for i in inputs.lookback_issues if i["repo"] in touched],
        local_tags=[t for t in inputs.local_tags if t["repo"] in touched],
        web_urls={k: v for k, v in inputs.web_urls.items() if k in touched},
    )


def covered_repos(cut: WindowInputs) -> set[str]:
    """The repositories a team's cut of a window covers: its DORA scope."""
    return {
        *cut.repos,
        *(c["repo"] for c in cut.commits),
        *(p["repo"] for p in cut.pull_requests),
        *(i["repo"] for i in cut.issues),
    }
