"""Team ownership: GitHub's CODEOWNERS semantics and config globs (sparky_assets/lib/teams.py).

Every expected owner below is worked out by hand from "About code owners":
https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners
"""

from __future__ import annotations

import pytest

from sparky_assets.lib.teams import (
    Ownership,
    Team,
    UnsupportedPattern,
    parse_codeowners,
    pick_codeowners,
)

# The example CODEOWNERS file of the doc page, reproduced line for line.
GITHUB_EXAMPLE = """\
# This is a comment.
# Each line is a file pattern followed by one or more owners.

# These owners will be the default owners for everything in
# the repo. Unless a later match takes precedence,
# @global-owner1 and @global-owner2 will be requested for
# review when someone opens a pull request.
*       @global-owner1 @global-owner2

# Order is important; the last matching pattern takes the most
# precedence. When someone opens a pull request that only
# modifies JS files, only @js-owner and not the global
# owner(s) will be requested for a review.
*.js    @js-owner #This is an inline comment.

# You can also use email addresses if you prefer. They'll be
# used to look up users just like we do for commit author
# emails.
*.go docs@example.com

# Teams can be specified as code owners as well. Teams should
# be identified in the format @org/team-name. Teams must have
# explicit write access to the repository. In this example,
# the octocats team in the octo-org organization owns all .txt files.
*.txt @octo-org/octocats

# In this example, @doctocat owns any files in the build/logs
# directory at the root of the repository and any of its
# subdirectories.
/build/logs/ @doctocat

# The `docs/*` pattern will match files like
# `docs/getting-started.md` but not further nested files like
# `docs/build-app/troubleshooting.md`.
docs/*  docs@example.com

# In this example, @octocat owns any file in an apps directory
# anywhere in your repository.
apps/ @octocat

# In this example, @doctocat owns any file in the `/docs`
# directory in the root of your repository and any of its
# subdirectories.
/docs/ @doctocat

# In this example, any change inside the `/scripts` directory
# will require approval from @doctocat or @octocat.
/scripts/ @doctocat @octocat

# In this example, @octocat owns any file in a `/logs` directory such as
# `/build/logs`, `/scripts/logs`, and `/deeply/nested/logs`. Any changes
# in a `/logs` directory will require approval from @octocat.
**/logs @octocat

# In this example, @octocat owns any file in the `/apps`
# directory in the root of your repository except for the `/apps/github`
# subdirectory, as its owners are left empty. Without an owner, changes
# to `apps/github` can be made with the approval of any user who has
# write access to the repository.
/apps/ @octocat
/apps/github

# In this example, @octocat owns any file in the `/apps`
# directory in the root of your repository except for the `/apps/github`
# subdirectory, as this subdirectory has its own owner @doctocat
/apps/ @octocat
/apps/github @doctocat
"""

GLOBAL = ("@global-owner1", "@global-owner2")

# (path, owners), each worked by hand: the last pattern of the file that matches wins.
EXAMPLE_OWNERS = [
    ("README.md", GLOBAL),  # only `*`
    ("src/app.js", ("@js-owner",)),  # `*.js` after `*`
    ("cmd/main.go", ("docs@example.com",)),
    ("notes/todo.txt", ("@octo-org/octocats",)),
    ("build/logs/today.log", ("@octocat",)),  # `/build/logs/`, then `**/logs` later
    ("build/out.bin", GLOBAL),  # `/build/logs/` does not cover build/
    ("docs/getting-started.md", ("@doctocat",)),  # `docs/*`, then `/docs/` later
    ("docs/build-app/troubleshooting.md", ("@doctocat",)),  # `/docs/` only
    ("lib/docs/readme.md", GLOBAL),  # `docs/*` and `/docs/` are anchored at the root
    ("web/apps/index.html", ("@octocat",)),  # `apps/` anywhere
    ("web/apps/main.js", ("@octocat",)),  # `apps/` is later than `*.js`
    ("apps/web/page.py", ("@octocat",)),  # `/apps/`
    ("apps/github/hook.py", ("@doctocat",)),  # the final `/apps/github @doctocat`
    ("scripts/deploy.sh", ("@doctocat", "@octocat")),
    ("scripts/notes.txt", ("@doctocat", "@octocat")),  # `/scripts/` is later than `*.txt`
    ("scripts/logs/a.txt", ("@octocat",)),  # `**/logs` is later than `/scripts/`
    ("deeply/nested/logs/x.txt", ("@octocat",)),
]


@pytest.mark.parametrize(("path", "owners"), EXAMPLE_OWNERS)
def test_github_example_file(path: str, owners: tuple[str, ...]) -> None:
    assert parse_codeowners(GITHUB_EXAMPLE).owners_of(path) == owners


def test_github_example_parses_without_errors_and_keeps_every_rule() -> None:
    parsed = parse_codeowners(GITHUB_EXAMPLE)
    assert parsed.errors == ()
    # 14 pattern lines in the doc's file (counted by hand), comments and blanks dropped.
    assert len(parsed.rules) == 14
    # The inline comment is not an owner.
    assert parsed.rules[1].owners == ("@js-owner",)


def test_pattern_without_owners_means_no_owner() -> None:
    # The doc's file cut before its last block: `/apps/github` with no owners is last.
    text = GITHUB_EXAMPLE.split("# In this example, @octocat owns any file in the `/apps`")[0]
    text += "/apps/ @octocat\n/apps/github\n"
    parsed = parse_codeowners(text)
    assert parsed.owners_of("apps/github/hook.py") == ()
    assert parsed.owners_of("apps/web/page.py") == ("@octocat",)
    ownership = Ownership(codeowners_files={"r": {"CODEOWNERS": "* @o/all\n/apps/github\n"}})
    assert ownership.teams_of_pull_request("r", ["apps/github/a.py"]) == set()
    assert ownership.teams_of_pull_request("r", ["apps/github/a.py", "x.py"]) == {"all"}


def test_docs_star_versus_double_star() -> None:
    one = parse_codeowners("docs/* @o/one\n")
    assert one.owners_of("docs/a.md") == ("@o/one",)
    assert one.owners_of("docs/sub/b.md") == ()
    two = parse_codeowners("docs/** @o/two\n")
    assert two.owners_of("docs/a.md") == ("@o/two",)
    assert two.owners_of("docs/sub/b.md") == ("@o/two",)
    assert two.owners_of("x/docs/a.md") == ()
    rooted = parse_codeowners("/docs/ @o/three\n")
    assert rooted.owners_of("docs/sub/deep/c.md") == ("@o/three",)
    assert rooted.owners_of("src/docs/c.md") == ()


def test_overlapping_patterns_last_match_wins_for_teams() -> None:
    text = (
        "* @org/all\n/src/ @org/core\n/src/ui/ @org/ui\n*.md @org/writers\n/src/ui/ @org/design\n"
    )
    ownership = Ownership(codeowners_files={"app": {"CODEOWNERS": text}}, org="org")
    assert ownership.teams_of_pull_request("app", ["src/ui/button.md"]) == {"design"}
    assert ownership.teams_of_pull_request("app", ["src/db/readme.md"]) == {"writers"}
    assert ownership.teams_of_pull_request("app", ["src/db/pool.py"]) == {"core"}
    assert ownership.teams_of_commit("app", ["setup.py", "src/db/pool.py"]) == {"all", "core"}
    # Another repository has no CODEOWNERS: no team.
    assert ownership.teams_of_commit("other", ["src/db/pool.py"]) == set()


def test_team_slugs_map_to_names_and_users_or_other_orgs_name_no_team() -> None:
    text = "*.py @Org/Backend-Team @someone dev@example.com @elsewhere/backend-team\n"
    ownership = Ownership(
        codeowners_files={"app": {".github/CODEOWNERS": text}},
        team_names={"backend-team": "Backend"},
        org="org",
    )
    assert ownership.teams_of_pull_request("app", ["a.py"]) == {"Backend"}


@pytest.mark.parametrize(
    ("files", "winner"),
    [
        (
            {".github/CODEOWNERS": "g", "CODEOWNERS": "r", "docs/CODEOWNERS": "d"},
            ".github/CODEOWNERS",
        ),
        ({"CODEOWNERS": "r", "docs/CODEOWNERS": "d"}, "CODEOWNERS"),
        ({"docs/CODEOWNERS": "d", ".gitlab/CODEOWNERS": "x"}, "docs/CODEOWNERS"),
    ],
)
def test_location_precedence(files: dict[str, str], winner: str) -> None:
    assert pick_codeowners(files) == (winner, files[winner])


def test_location_precedence_decides_teams() -> None:
    files = {"docs/CODEOWNERS": "* @o/docs\n", "CODEOWNERS": "* @o/root\n"}
    assert Ownership(codeowners_files={"r": files}).teams_of_commit("r", ["a"]) == {"root"}
    files[".github/CODEOWNERS"] = "* @o/gh\n"
    assert Ownership(codeowners_files={"r": files}).teams_of_commit("r", ["a"]) == {"gh"}
    assert pick_codeowners({".gitlab/CODEOWNERS": "* @o/x\n"}) is None
    only_elsewhere = {"r": {"src/CODEOWNERS": "* @o/x\n"}}
    assert Ownership(codeowners_files=only_elsewhere).teams_of_commit("r", ["a"]) == set()


def test_unsupported_gitignore_syntax_lines_are_skipped_and_reported() -> None:
    text = "* @o/all\n*.[ch] @o/c\n!*.md @o/md\n\\#notes @o/hash\n*.py @o/py\n* not-an-owner\n"
    parsed = parse_codeowners(text)
    assert [line for line, _ in parsed.errors] == [2, 3, 4, 6]
    assert [r.pattern for r in parsed.rules] == ["*", "*.py"]
    assert parsed.owners_of("main.c") == ("@o/all",)
    assert parsed.owners_of("README.md") == ("@o/all",)
    assert parsed.owners_of("#notes") == ("@o/all",)
    assert parsed.owners_of("a/b.py") == ("@o/py",)


def test_paths_are_case_sensitive() -> None:
    parsed = parse_codeowners("/Docs/ @o/docs\n")
    assert parsed.owners_of("Docs/a.md") == ("@o/docs",)
    assert parsed.owners_of("docs/a.md") == ()


def test_config_teams_repo_and_path_globs() -> None:
    ownership = Ownership(
        [
            Team("platform", repos=["infra-*"]),
            Team("web", repos=["site", "app-*"], paths=["frontend/", "*.css"]),
            Team("docs", paths=["docs/**"]),
            Team("nobody"),
        ]
    )
    # Whole repositories by glob.
    assert ownership.teams_of_commit("infra-dns", ["zones/a.zone"]) == {"platform"}
    # Path globs only inside the repositories matched.
    assert ownership.teams_of_pull_request("app-mobile", ["frontend/x/y.ts"]) == {"web"}
    assert ownership.teams_of_pull_request("site", ["static/main.css"]) == {"web"}
    assert ownership.teams_of_pull_request("site", ["backend/api.py"]) == set()
    assert ownership.teams_of_pull_request("tools", ["frontend/x.ts"]) == set()
    # `paths` without `repos`: those paths in every repository.
    assert ownership.teams_of_pull_request("tools", ["docs/guide/a.md"]) == {"docs"}
    # Any changed file suffices; the union of owners is returned.
    assert ownership.teams_of_pull_request("site", ["docs/a.md", "frontend/b.ts", "README"]) == {
        "docs",
        "web",
    }
    # `repos` globs are whole-name matches, like [github].include.
    assert ownership.teams_of_commit("my-infra-dns", ["a"]) == set()


def test_config_and_codeowners_teams_are_unioned() -> None:
    ownership = Ownership(
        [Team("web", repos=["site"], paths=["frontend/"])],
        {"site": {"CODEOWNERS": "/backend/ @acme/api\n"}},
        org="acme",
    )
    assert ownership.teams_of_pull_request("site", ["frontend/a.ts", "backend/b.py"]) == {
        "web",
        "api",
    }


def test_config_path_glob_with_unsupported_syntax_is_refused() -> None:
    with pytest.raises(UnsupportedPattern):
        Ownership([Team("x", paths=["src/[ab]/"])])
