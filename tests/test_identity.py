"""Identity resolution on small hand-written records.

Every expected value is worked out by hand in the comments next to it, never copied from a run
of the code under test.
"""

from __future__ import annotations

import datetime as dt
import json
import random
from typing import Any
from zoneinfo import ZoneInfo

from sparky_assets.lib.identity import (
    ContributorsTable,
    IdentityBuilder,
    build_contributors,
    day_tally,
    display_name,
    dump_state,
    extend_table,
    is_automated_subject,
    load_state,
    noreply_login,
    resume_builder,
    table_cache,
    table_document,
)
from sparky_resources.config import DEFAULT_BOTS
from sparky_resources.github_records import IssueRecord, PullRequestRecord
from sparky_resources.models import CommitRecord

UTC = ZoneInfo("UTC")
NY = ZoneInfo("America/New_York")


def commit(
    sha: str,
    name: str,
    email: str,
    when: str = "2024-05-01T12:00:00+00:00",
    *,
    login: str | None = None,
    subject: str = "Fix things",
    repo: str = "r",
    merge: bool = False,
) -> dict[str, Any]:
    """A commit with every CommitRecord field, as the JSON files hold it."""
    return CommitRecord(
        repo=repo,
        sha=sha,
        parents=["p1", "p2"] if merge else ["p1"],
        author_name=name,
        author_email=email,
        committer_name=name,
        committer_email=email,
        authored_at=when,
        committed_at=when,
        subject=subject,
        additions=1,
        deletions=0,
        files_changed=1,
        binary_files=0,
        is_merge=merge,
        author_login=login,
    ).model_dump(mode="json")


def pull(
    number: int, login: str | None, created: str, *, repo: str = "r", bot: bool = False
) -> dict[str, Any]:
    return PullRequestRecord(
        repo=repo,
        number=number,
        title=f"PR {number}",
        url=f"https://github.com/o/{repo}/pull/{number}",
        author_login=login,
        author_is_bot=bot,
        state="open",
        is_draft=False,
        created_at=created,
        updated_at=created,
        merged_at=None,
        closed_at=None,
        merged_by_login=None,
        additions=None,
        deletions=None,
        changed_files=None,
        labels=[],
        requested_reviewers=[],
        reviews=[],
        ready_for_review_at=None,
        first_response_at=None,
        closing_issues=[],
    ).model_dump(mode="json")


def issue(
    number: int, login: str | None, created: str, *, repo: str = "r", bot: bool = False
) -> dict[str, Any]:
    return IssueRecord(
        repo=repo,
        number=number,
        title=f"Issue {number}",
        url=f"https://github.com/o/{repo}/issues/{number}",
        author_login=login,
        author_is_bot=bot,
        state="open",
        state_reason=None,
        created_at=created,
        updated_at=created,
        closed_at=None,
        labels=[],
        comments=0,
        first_response_at=None,
    ).model_dump(mode="json")


def table_of(
    commits=(), pulls=(), issues=(), *, tz: ZoneInfo = UTC, bots=(), aliases=None, **kw: Any
) -> ContributorsTable:
    return build_contributors(commits, pulls, issues, tz=tz, bots=bots, aliases=aliases, **kw)


# --- merging ---------------------------------------------------------------------------------


def test_a_commits_email_and_its_login_are_one_person() -> None:
    table = table_of(
        [
            commit("1", "Alice Archer", "alice@example.com", login="alice-gh"),
            commit("2", "Alice Archer", "Alice@Home.org", login="Alice-GH"),
            commit("3", "Bob", "bob@example.com"),
        ],
        [pull(7, "ALICE-gh", "2024-05-02T00:00:00Z")],
    )
    # Alice: two emails tied to one login (any case) -> one id, the login; Bob: his email.
    assert [c.id for c in table.contributors] == ["alice-gh", "bob@example.com"]
    alice = table.by_id()["alice-gh"]
    assert alice.emails == ["alice@example.com", "alice@home.org"]
    assert alice.logins == ["alice-gh"]
    assert (alice.commits, alice.pull_requests, alice.issues) == (2, 1, 0)
    assert table.handles == {
        "email:alice@example.com": "alice-gh",
        "email:alice@home.org": "alice-gh",
        "email:bob@example.com": "bob@example.com",
        "login:alice-gh": "alice-gh",
    }
    assert table.resolve(email=" ALICE@home.ORG ") == "alice-gh"
    assert table.resolve(login="Alice-Gh") == "alice-gh"
    # The login decides when both are given; unknown handles resolve to nothing.
    assert table.resolve(email="bob@example.com", login="alice-gh") == "alice-gh"
    assert table.resolve(email="nobody@example.com") is None
    assert table.resolve() is None


def test_both_noreply_forms_belong_to_the_login() -> None:
    assert noreply_login("123+Bobby@users.noreply.github.com") == "bobby"
    assert noreply_login("bobby@users.noreply.github.com") == "bobby"
    assert noreply_login("49699333+dependabot[bot]@users.noreply.github.com") == ("dependabot[bot]")
    assert noreply_login("bobby@example.com") is None

    commits = [
        commit("1", "Bob Builder", "123+bobby@users.noreply.github.com"),
        commit("2", "Bob Builder", "123+bobby@users.noreply.github.com"),
        commit("3", "Bob Builder", "Bobby@users.noreply.github.com"),
    ]
    # No login reported by GitHub: one identity, named by its most used email (2 commits).
    local = table_of(commits)
    assert [c.id for c in local.contributors] == ["123+bobby@users.noreply.github.com"]
    bob = local.contributors[0]
    assert (bob.commits, bob.logins) == (3, ["bobby"])
    assert bob.emails == ["123+bobby@users.noreply.github.com", "bobby@users.noreply.github.com"]
    assert local.resolve(login="BOBBY") == bob.id
    # A noreply address the table never saw still resolves through its login.
    assert local.resolve(email="999+bobby@users.noreply.github.com") == bob.id

    # Once GitHub reports the login (a pull request), the login names the identity.
    with_github = table_of(commits, [pull(1, "bobby", "2024-05-03T00:00:00Z")])
    assert [c.id for c in with_github.contributors] == ["bobby"]


def test_a_bot_noreply_address_joins_the_bot_login() -> None:
    dependabot = "49699333+dependabot[bot]@users.noreply.github.com"
    commits = [
        commit("1", "dependabot[bot]", dependabot, subject="Bump a from 1 to 2"),
        commit("2", "dependabot[bot]", dependabot, subject="Bump b from 1 to 2"),
    ]
    pulls = [pull(3, "dependabot[bot]", "2024-05-01T00:00:00Z", bot=True)]
    table = table_of(commits, pulls)
    # One identity: the address belongs to the login GitHub reported on the pull request.
    assert [c.id for c in table.contributors] == ["dependabot[bot]"]
    bot = table.contributors[0]
    assert (bot.commits, bot.pull_requests, bot.is_bot) == (2, 1, True)
    # Not listed (no bots configured): the [bot] suffix is the first rule that applies.
    assert bot.bot_reason is not None and bot.bot_reason.startswith("[bot] suffix")
    listed = table_of(commits, pulls, bots=DEFAULT_BOTS).contributors[0]
    assert listed.bot_reason is not None
    assert listed.bot_reason.startswith("listed in [identity].bots")


def test_aliases_merge_emails_case_insensitively_and_follow_chains() -> None:
    aliases = {"alice@work.example": "alice@example.com", "al@old.example": "alice@work.example"}
    commits = [
        commit("1", "Alice A", "Alice@Work.EXAMPLE"),
        commit("2", "Alice Archer", "ALICE@example.com"),
        commit("3", "Alice Archer", "alice@example.com"),
        commit("4", "Al", "al@old.example"),
    ]
    table = table_of(commits, aliases=aliases)
    # al -> work -> example: one identity; alice@example.com has the most commits (2).
    assert [c.id for c in table.contributors] == ["alice@example.com"]
    alice = table.contributors[0]
    assert alice.emails == ["al@old.example", "alice@example.com", "alice@work.example"]
    assert (alice.commits, alice.name) == (4, "Alice Archer")
    # Without aliases: three identities (the two spellings of alice@example.com are one).
    assert len(table_of(commits).contributors) == 3


def test_logins_compare_case_insensitively() -> None:
    table = table_of(
        [commit("1", "Carol", "CAROL@x.org"), commit("2", "Carol", "carol@x.org")],
        [pull(1, "Carol", "2024-05-01T00:00:00Z"), pull(2, "carol", "2024-05-02T00:00:00Z")],
    )
    # The emails are one identity, the logins another (nothing links an email to the login).
    assert [c.id for c in table.contributors] == ["carol", "carol@x.org"]
    assert table.by_id()["carol"].pull_requests == 2
    assert table.by_id()["carol@x.org"].commits == 2


# --- canonical ids ---------------------------------------------------------------------------


def test_canonical_id_is_the_login_with_most_contributions_else_the_busiest_email() -> None:
    commits = [
        # One person: the email is linked to two logins. "bee" is named on 2 commits,
        # "ann" on 1 commit + 0 pull requests: "bee" wins.
        commit("1", "Pat", "pat@x.org", login="ann"),
        commit("2", "Pat", "pat@x.org", login="bee"),
        commit("3", "Pat", "pat@x.org", login="bee"),
        # Tie (1 contribution each): "amy" before "zed".
        commit("4", "Quinn", "quinn@x.org", login="zed"),
        commit("5", "Quinn", "quinn@x.org", login="amy"),
        # No login: the email with the most commits (2 vs 1), then a tie goes alphabetical.
        commit("6", "Ray", "ray@z.org"),
        commit("7", "Ray", "ray@z.org"),
        commit("8", "Ray", "ray@a.org"),
        commit("9", "Sue", "sue@z.org"),
        commit("10", "Sue", "sue@a.org"),
    ]
    aliases = {"ray@a.org": "ray@z.org", "sue@z.org": "sue@a.org"}
    table = table_of(commits, aliases=aliases)
    assert [c.id for c in table.contributors] == ["amy", "bee", "ray@z.org", "sue@a.org"]
    assert table.by_id()["bee"].logins == ["ann", "bee"]


def test_the_table_does_not_depend_on_record_order() -> None:
    commits = [
        commit("1", "Pat", "pat@x.org", "2024-05-01T10:00:00Z", login="ann"),
        commit("2", "Pat P", "pat@x.org", "2024-05-02T10:00:00Z", login="bee"),
        commit("3", "Pat", "pat@home.org", "2024-05-03T10:00:00Z", login="bee"),
        commit("4", "Quinn", "quinn@x.org", login="zed"),
        commit("5", "Quinn Q", "quinn@x.org", login="amy"),
        commit("6", "Dana Dee", "dana@old.example", subject="Bump x from 1 to 2"),
        commit("7", "Dana Dee", "dana@new.example", subject="Update y to 2.0"),
        commit("8", "dana dee", "dana@new.example", subject="Bump y from 2 to 3"),
        commit("9", "Renovate", "bot@renovateapp.com", subject="Lock file maintenance"),
        commit("10", "Renovate", "bot@renovateapp.com", subject="Pin dependencies"),
    ]
    pulls = [pull(1, "amy", "2024-05-04T00:00:00Z"), pull(2, "zed", "2024-05-05T00:00:00Z")]
    issues = [issue(1, "pat-alt", "2024-05-06T00:00:00Z")]
    want = table_of(commits, pulls, issues).model_dump()
    rng = random.Random(20240501)
    for _ in range(5):
        c, p, i = commits[:], pulls[:], issues[:]
        rng.shuffle(c)
        rng.shuffle(p)
        assert table_of(c, p, i).model_dump() == want


# --- bots ------------------------------------------------------------------------------------


def test_each_bot_rule_and_its_reason() -> None:
    bots = ["CI-Helper", "jenkins", "deploy-bot"]
    commits = [
        # Listed by name (case-insensitive).
        commit("1", "Jenkins", "ci@corp.example"),
        # Listed by the email's local part once the ID+ prefix is gone.
        commit("2", "Deployer", "12+deploy-bot@corp.example"),
        # [bot] suffix on a name only.
        commit("3", "my-app[bot]", "app@corp.example"),
        # Automated subjects only: a custom-named updater no name rule knows.
        commit("4", "Deps Updater", "deps@corp.example", subject="Lock file maintenance"),
        commit(
            "5",
            "Deps Updater",
            "deps@corp.example",
            subject="chore(deps): update dependency ruff to v0.6",
        ),
        commit(
            "6",
            "Deps Updater",
            "deps@corp.example",
            subject="Update actions/checkout action to v4 (#12)",
        ),
        # A CI account by name: the pattern "build.*" matches the whole name "Build Server".
        commit("10", "Build Server", "releases@corp.example"),
        # A human who once bumped a version among other work.
        commit("7", "Hana", "hana@corp.example", subject="Bump version from 1.0 to 1.1"),
        commit("8", "Hana", "hana@corp.example", subject="Add the parser"),
        # A single automated commit is not enough to call anyone a bot.
        commit("9", "Ivo", "ivo@corp.example", subject="Bump lodash from 1 to 2"),
    ]
    pulls = [
        # Listed by login.
        pull(1, "ci-helper", "2024-05-01T00:00:00Z"),
        # GitHub says Bot, nothing else does.
        pull(2, "sonarcloud", "2024-05-01T00:00:00Z", bot=True),
    ]
    table = table_of(commits, pulls, bots=bots, bot_patterns=["build.*"])
    reasons = {c.id: c.bot_reason for c in table.contributors}
    assert reasons == {
        "ci@corp.example": "listed in [identity].bots (name 'Jenkins')",
        "12+deploy-bot@corp.example": (
            "listed in [identity].bots (email '12+deploy-bot@corp.example')"
        ),
        "app@corp.example": "[bot] suffix (name 'my-app[bot]')",
        "releases@corp.example": "matches [identity].bot_patterns 'build.*' (name 'Build Server')",
        # The example is the alphabetically first automated subject: "L" < "U" < "c".
        "deps@corp.example": (
            "all 3 commits are automated messages (e.g. 'Lock file maintenance')"
        ),
        "hana@corp.example": None,
        "ivo@corp.example": None,
        "ci-helper": "listed in [identity].bots (login 'ci-helper')",
        "sonarcloud": "GitHub account type Bot (login 'sonarcloud')",
    }
    assert {c.id: c.is_bot for c in table.contributors} == {
        i: r is not None for i, r in reasons.items()
    }


def test_the_first_rule_that_applies_wins() -> None:
    # A listed [bot] login that GitHub also calls a Bot: "listed" comes first.
    pulls = [pull(1, "renovate[bot]", "2024-05-01T00:00:00Z", bot=True)]
    person = table_of(pulls=pulls, bots=["renovate[bot]"]).contributors[0]
    assert person.bot_reason == "listed in [identity].bots (login 'renovate[bot]')"
    # Unlisted: the suffix comes before GitHub's type.
    person = table_of(pulls=pulls).contributors[0]
    assert person.bot_reason == "[bot] suffix (login 'renovate[bot]')"


# The defaults, judged by hand: each CI or automation identity below commits under a name or
# address its tool documents (see config.DEFAULT_BOT_PATTERNS); the people around them have
# names that contain such words without being them.
CI_IDENTITIES = [
    ("Build Server", "build@corp.example"),  # the issue's case: a CI address, welcomed as new
    ("GitHub Action", "action@github.com"),
    ("GitHub Actions", "actions@github.com"),
    ("Jenkins", "jenkins@ci.corp.example"),
    ("Travis CI", "builds@travis-ci.org"),
    ("Deployment Bot", "deploy@travis-ci.org"),
    ("Release Token", "project123_bot1@noreply.gitlab.example"),  # by the address only
    ("buildkite-agent", "agent@buildkite.example"),
    ("TeamCity Build Agent", "tc@corp.example"),
    ("Project Collection Build Service (contoso)", "pcbs@contoso.example"),
    ("Web Build Service (contoso)", "wbs@contoso.example"),
    ("build bot", "bb@corp.example"),
    ("buildbot", "buildbot@corp.example"),
    ("CI", "robot@corp.example"),
    ("semantic-release-bot", "semantic-release-bot@martynus.net"),
    ("Renovate Bot", "bot@renovateapp.com"),
    ("Dependabot", "support@dependabot.com"),
    ("pre-commit-ci", "hooks@corp.example"),
    ("Snyk bot", "snyk-bot@snyk.io"),
    ("ImgBotApp", "ImgBotHelp@gmail.com"),
    ("allcontributors", "contributors@corp.example"),
]
PEOPLE_NOT_BOTS = [
    ("Chris", "chris@corp.example"),  # "ci" only as a whole name or local part
    ("Cinthia Ci", "cinthia.ci@corp.example"),
    ("Bob Builder", "bob@corp.example"),
    ("Abbot Robotham", "abbot@corp.example"),
    ("Anna Travis", "anna.travis@corp.example"),
    ("Jenkinson", "jenkinson@corp.example"),
    ("Reaction Jones", "reaction@corp.example"),
    ("Gitta Labs", "gitta@corp.example"),
]


def test_default_bot_patterns_mark_ci_accounts_and_spare_people() -> None:
    everyone = CI_IDENTITIES + PEOPLE_NOT_BOTS
    commits = [commit(str(i), name, email) for i, (name, email) in enumerate(everyone)]
    table = table_of(commits)  # no [identity].bots: only the patterns can mark anyone
    verdicts = {c.name: c.is_bot for c in table.contributors}
    assert verdicts == {
        **{name: True for name, _ in CI_IDENTITIES},
        **{name: False for name, _ in PEOPLE_NOT_BOTS},
    }
    reasons = {c.name: c.bot_reason or "" for c in table.contributors}
    assert reasons["Build Server"].startswith("matches [identity].bot_patterns ")
    assert reasons["Build Server"].endswith("(name 'Build Server')")
    # The name did not match, the address's local part did.
    assert reasons["Release Token"].endswith("(email 'project123_bot1@noreply.gitlab.example')")


def test_bot_patterns_match_whole_values_case_insensitively_and_name_the_pattern() -> None:
    commits = [
        commit("1", "CI-Runner", "r@corp.example"),
        commit("2", "Circe", "circe@corp.example"),
        commit("3", "Ops", "CI@corp.example"),
    ]
    table = table_of(commits, bot_patterns=["ci", "ci-.*"])
    first = {c.name: c.bot_reason for c in table.contributors}
    assert first == {
        "CI-Runner": "matches [identity].bot_patterns 'ci-.*' (name 'CI-Runner')",
        "Circe": None,  # "ci" does not match part of a name
        # Emails are stored lowercased: the local part is "ci".
        "Ops": "matches [identity].bot_patterns 'ci' (email 'ci@corp.example')",
    }
    # Two patterns match "ci-runner": the first in the configured order is named.
    both = table_of(commits[:1], bot_patterns=[".*-runner", "ci-.*"]).contributors[0]
    assert both.bot_reason == "matches [identity].bot_patterns '.*-runner' (name 'CI-Runner')"


def test_bot_patterns_come_after_the_suffix_and_before_githubs_type() -> None:
    # "build-bot[bot]" ends in [bot] (rule 2) and matches "build.*" (rule 3): rule 2 wins.
    suffixed = table_of(pulls=[pull(1, "build-bot[bot]", "2024-05-01T00:00:00Z")])
    assert suffixed.contributors[0].bot_reason == "[bot] suffix (login 'build-bot[bot]')"
    # A login GitHub calls a Bot that also matches a pattern: the pattern (rule 3) is named.
    typed = table_of(pulls=[pull(1, "jenkins", "2024-05-01T00:00:00Z", bot=True)])
    assert typed.contributors[0].bot_reason == (
        "matches [identity].bot_patterns 'jenkins(?:[ ._-]?(?:ci|bot|build|user|agent))?' "
        "(login 'jenkins')"
    )


def test_an_empty_pattern_list_turns_the_rule_off() -> None:
    commits = [commit("1", "Build Server", "build@corp.example")]
    assert table_of(commits).contributors[0].is_bot
    off = table_of(commits, bot_patterns=[]).contributors[0]
    assert (off.is_bot, off.bot_reason) == (False, None)


def test_changed_patterns_rebuild_a_cached_table() -> None:
    """The incremental path (state, day tallies, cached table text) must not keep a verdict
    made under other patterns: the patterns are part of the cache's configuration key."""
    records = ([commit("1", "Build Server", "build@corp.example")], [], [])
    marks = {"2024-05-01": 1}

    def tally_of(day: str) -> dict[str, Any]:
        return day_tally(*records, tz=UTC)

    def run(state: Any, text: bytes | None, patterns: list[str]) -> tuple[Any, bytes, Any]:
        builder, new_state = resume_builder(state, marks, tally_of, tz=UTC, bot_patterns=patterns)
        cache = state.get("table") if state is not None else None
        parts = builder.build_parts(cache if text is not None else None)
        pieces, spans = table_document({"days": sorted(marks)}, parts, text)
        written = b"".join(pieces)
        stored = load_state(dump_state({**new_state, "table": table_cache(parts, spans)}))
        return stored, written, parts

    state, text, parts = run(None, None, [])
    assert json.loads(text)["table"]["contributors"][0]["is_bot"] is False
    # Same patterns, nothing new: the contributor's text is copied, not rebuilt.
    state, text, parts = run(state, text, [])
    assert (sorted(parts.fresh), sorted(parts.kept)) == ([], ["build@corp.example"])
    # Another pattern list: rebuilt, and now a bot.
    state, text, parts = run(state, text, ["build.*"])
    assert sorted(parts.fresh) == ["build@corp.example"]
    person = json.loads(text)["table"]["contributors"][0]
    assert (person["is_bot"], person["bot_reason"]) == (
        True,
        "matches [identity].bot_patterns 'build.*' (name 'Build Server')",
    )


def test_automated_subject_patterns() -> None:
    automated = [
        "Bump lodash from 4.17.20 to 4.17.21",
        "build(deps): bump requests from 2.31.0 to 2.32.0 in /backend",
        "chore(deps-dev): Bump pytest from 8.0 to 8.1 (#42)",
        "Bump the npm_and_yarn group across 1 directory with 2 updates",
        "Update dependency ruff to v0.6.1",
        "chore(deps): update actions/setup-python action to v5",
        "Update rust crate serde to 1.0.200",
        "Lock file maintenance",
        "chore(deps): lock file maintenance",
        "Pin dependencies",
        "[pre-commit.ci] pre-commit autoupdate",
        "[pre-commit.ci] auto fixes from pre-commit.com hooks",
        "pre-commit autoupdate",
    ]
    human = [
        "Fix bump from 1 to 2 in the parser docs",  # "bump" not at the start
        "Update README to describe the cache",  # "to" is not followed by a version
        "Updated dependency ruff to v0.6",  # not the updater's wording
        "Add lock file maintenance script docs and a test",
        "Bump",
        "",
    ]
    assert [s for s in automated if not is_automated_subject(s)] == []
    assert [s for s in human if is_automated_subject(s)] == []


# --- times and days --------------------------------------------------------------------------


def test_first_and_last_contribution_across_commits_pull_requests_and_issues() -> None:
    table = table_of(
        [commit("1", "Eve", "eve@x.org", "2024-05-02T10:00:00+00:00", login="eve")],
        [pull(1, "eve", "2024-05-01T09:00:00Z")],
        [issue(1, "Eve", "2024-05-03T08:00:00Z"), issue(2, "eve", "2024-05-04T01:02:03+02:00")],
    )
    eve = table.by_id()["eve"]
    # Earliest: the pull request (05-01 09:00Z); latest: issue 2 at 05-03 23:02:03Z, after
    # issue 1 (05-03 08:00Z).
    assert eve.first_contribution == "2024-05-01T09:00:00+00:00"
    assert eve.last_contribution == "2024-05-03T23:02:03+00:00"
    assert eve.first_commit == "2024-05-02T10:00:00+00:00"
    assert eve.first_pull_request == "2024-05-01T09:00:00+00:00"
    assert eve.first_issue == "2024-05-03T08:00:00+00:00"
    assert (eve.commits, eve.pull_requests, eve.issues) == (1, 1, 2)


def test_active_days_are_org_timezone_dates() -> None:
    table = table_of(
        [
            # 03:30Z on 03-10 is 22:30 EST on 03-09.
            commit("1", "Nia", "nia@x.org", "2024-03-10T03:30:00Z", login="nia"),
            # 06:59:59Z on 03-10 is 01:59:59 EST, a second before clocks spring forward.
            commit("2", "Nia", "nia@x.org", "2024-03-10T06:59:59Z", login="nia"),
            # 04:30Z on 11-04 is 23:30 EST on 11-03 (after the fall-back).
            commit("3", "Nia", "nia@x.org", "2024-11-04T04:30:00Z", login="nia"),
        ],
        # 12:00Z on 03-11 is 08:00 EDT on 03-11.
        [pull(1, "nia", "2024-03-11T12:00:00Z")],
        # 02:00Z on 06-01 is 22:00 EDT on 05-31.
        [issue(1, "nia", "2024-06-01T02:00:00Z")],
        tz=NY,
    )
    assert table.by_id()["nia"].active_days == [
        "2024-03-09",
        "2024-03-10",
        "2024-03-11",
        "2024-05-31",
        "2024-11-03",
    ]
    # The same records in UTC keep their UTC dates.
    utc = table_of([commit("1", "Nia", "nia@x.org", "2024-03-10T03:30:00Z")])
    assert utc.contributors[0].active_days == ["2024-03-10"]


def test_active_days_at_a_quarter_hour_offset() -> None:
    # Asia/Kathmandu is UTC+05:45: 18:14:59Z is 23:59:59 on 01-01, 18:15Z is 00:00 on 01-02.
    builder = IdentityBuilder(tz=ZoneInfo("Asia/Kathmandu"))
    builder.add_commits(
        [
            commit("1", "Om", "om@x.org", "2024-01-01T18:14:59Z"),
            commit("2", "Om", "om@x.org", "2024-01-01T18:15:00Z"),
        ]
    )
    assert builder.build().contributors[0].active_days == ["2024-01-01", "2024-01-02"]


def test_a_pull_request_in_several_day_files_counts_once() -> None:
    builder = IdentityBuilder(tz=UTC)
    first = pull(5, "kim", "2024-05-01T00:00:00Z")
    builder.add_pull_requests([first])
    builder.add_pull_requests([first, pull(5, "kim", "2024-05-01T00:00:00Z", repo="other")])
    builder.add_issues([issue(5, "kim", "2024-05-02T00:00:00Z")])
    builder.add_issues([issue(5, "kim", "2024-05-02T00:00:00Z")])
    kim = builder.build().by_id()["kim"]
    # PR r#5 twice -> 1, other#5 -> 1; issue r#5 twice -> 1 (its own kind, not the PR's).
    assert (kim.pull_requests, kim.issues) == (2, 1)
    assert kim.repos == ["other", "r"]


def test_merges_and_unattributable_records_are_ignored() -> None:
    table = table_of(
        [
            commit("1", "Mia Merger", "mia@x.org", merge=True),
            commit("2", "Ann", "ann@x.org"),
            commit("3", "Ann", "ann@x.org", merge=True),
        ],
        [pull(1, None, "2024-05-01T00:00:00Z")],  # a deleted account ("ghost")
    )
    # Only Ann's non-merge commit: Mia made merges only, the ghost has no login.
    assert [(c.id, c.commits) for c in table.contributors] == [("ann@x.org", 1)]


# --- names and suggestions -------------------------------------------------------------------


def test_display_names_never_show_an_email_address() -> None:
    assert display_name("Bob <bob@x.org>") == "Bob <bob>"
    table = table_of(
        [
            commit("1", "alice@example.com", "alice@example.com"),
            commit("2", "", "nameless@example.com"),
            commit("3", "Zed", "zed@x.org"),
            commit("4", "Zed Z", "zed@x.org"),
        ],
        [pull(1, "octo-cat", "2024-05-01T00:00:00Z")],
    )
    names = {c.id: c.name for c in table.contributors}
    # An email as the name shows its local part; no name at all -> the email's local part;
    # a login-only identity -> its login; a tie of names (1 each) -> alphabetically first.
    assert names == {
        "alice@example.com": "alice",
        "nameless@example.com": "nameless",
        "octo-cat": "octo-cat",
        "zed@x.org": "Zed",
    }
    assert all("@" not in c.name for c in table.contributors)


def test_same_name_different_emails_gets_a_mailmap_suggestion() -> None:
    commits = [
        commit("1", "Dana Dee", "dana@new.example"),
        commit("2", "Dana Dee", "dana@new.example"),
        commit("3", "dana  DEE", "Dana@Old.example"),
        commit("4", "dana  DEE", "dana@laptop.local"),
        # A human and a bot with one name: bots are never suggested.
        commit("5", "Ops", "ops@x.org"),
        commit("6", "Ops", "ops[bot]@x.org"),
        # Generic and short names say nothing.
        commit("7", "root", "root@a.example"),
        commit("8", "root", "root@b.example"),
        commit("9", "Al", "al@a.example"),
        commit("10", "Al", "al@b.example"),
    ]
    table = table_of(commits)
    # Dana: dana@new.example (2 commits) is the proper one; the others map onto it.
    assert table.suggested_mailmap == [
        "Dana Dee <dana@new.example> <dana@laptop.local>",
        "Dana Dee <dana@new.example> <dana@old.example>",
    ]
    assert len(table.unresolved) == 1
    dana = table.unresolved[0]
    assert dana.name == "Dana Dee"
    assert dana.ids == ["dana@laptop.local", "dana@new.example", "dana@old.example"]
    assert "mailmap" in dana.reason

    # Aliases that already merge them: nothing left to suggest.
    aliases = {"dana@old.example": "dana@new.example", "dana@laptop.local": "dana@new.example"}
    merged = table_of(commits, aliases=aliases)
    assert merged.suggested_mailmap == [] and merged.unresolved == []


def test_a_login_only_namesake_is_unresolved_without_a_mailmap_line() -> None:
    table = table_of(
        [commit("1", "octocat", "octo@x.org")],
        [pull(1, "OctoCat", "2024-05-01T00:00:00Z")],
    )
    # "octocat" the author name and "octocat" the login: no email on the login's side.
    assert table.suggested_mailmap == []
    assert [(u.name, u.ids) for u in table.unresolved] == [("octocat", ["octo@x.org", "octocat"])]
    assert "check by hand" in table.unresolved[0].reason


# --- extend_table ----------------------------------------------------------------------------


def test_extend_table_with_a_stale_table() -> None:
    stored = table_of(
        [
            commit("1", "Alice", "alice@example.com", "2024-01-05T10:00:00Z"),
            commit("2", "Alice", "alice@example.com", "2024-01-06T10:00:00Z"),
            commit("3", "Bob", "bob@example.com", "2024-01-07T10:00:00Z"),
            commit("4", "Ray", "ray@a.org", "2024-01-08T10:00:00Z"),
            commit("5", "Ray", "ray@b.org", "2024-01-09T10:00:00Z"),
            commit("6", "Ray", "ray@b.org", "2024-01-10T10:00:00Z"),
        ],
        bots=["bob"],
    )
    assert [c.id for c in stored.contributors] == [
        "alice@example.com",
        "bob@example.com",
        "ray@a.org",
        "ray@b.org",
    ]
    window = [
        # GitHub now reports Alice's login, and she used a new email with it.
        commit("10", "Alice", "alice@example.com", "2024-06-01T10:00:00Z", login="alice"),
        commit("11", "Alice A", "alice@new.example", "2024-06-02T10:00:00Z", login="alice"),
        # Someone the stored table never saw.
        commit("12", "Carol", "carol@example.com", "2024-06-03T10:00:00Z"),
        # Ray's two stored identities turn out to be one login.
        commit("13", "Ray", "ray@a.org", "2024-06-04T10:00:00Z", login="ray"),
        commit("14", "Ray", "ray@b.org", "2024-06-05T10:00:00Z", login="ray"),
    ]
    pulls = [pull(1, "alice", "2024-06-06T00:00:00Z")]
    extended = extend_table(stored, window, pulls, tz=UTC, bots=["bob"])
    # Alice keeps her stored id; her new email, her login and her pull request join it.
    assert extended.resolve(email="alice@new.example") == "alice@example.com"
    assert extended.resolve(login="Alice") == "alice@example.com"
    alice = extended.by_id()["alice@example.com"]
    assert alice.emails == ["alice@example.com", "alice@new.example"]
    assert alice.logins == ["alice"]
    assert alice.name == "Alice"  # the stored (all-history) name
    assert alice.first_contribution == "2024-01-05T10:00:00+00:00"  # stored, earlier
    assert alice.last_contribution == "2024-06-06T00:00:00+00:00"  # the pull request
    assert alice.pull_requests == 1
    # Carol is new, with the id the rules give her; Bob is untouched and still a bot.
    assert extended.resolve(email="carol@example.com") == "carol@example.com"
    bob = extended.by_id()["bob@example.com"]
    assert (bob.is_bot, bob.commits) == (True, 1)
    # Ray's stored ids merge under the one with more contributions (ray@b.org: 2 vs 1).
    assert extended.resolve(email="ray@a.org") == "ray@b.org"
    assert extended.resolve(login="ray") == "ray@b.org"
    assert "ray@a.org" not in extended.by_id()
    assert [c.id for c in extended.contributors] == [
        "alice@example.com",
        "bob@example.com",
        "carol@example.com",
        "ray@b.org",
    ]
    # The stored table itself is not changed.
    assert stored.resolve(login="alice") is None


def test_extend_table_joins_by_noreply_and_alias_and_keeps_stored_verdicts() -> None:
    stored = table_of(
        [commit("1", "Bob", "bob@example.com", login="bobby")],
        [pull(1, "helper", "2024-05-01T00:00:00Z", bot=True)],
    )
    window = [
        commit("2", "Bob", "123+bobby@users.noreply.github.com"),
        commit("3", "Bob", "bob@old.example"),
        commit("4", "Helper", "helper@users.noreply.github.com", subject="Fix a typo"),
    ]
    aliases = {"bob@old.example": "bob@example.com"}
    extended = extend_table(stored, window, tz=UTC, aliases=aliases)
    assert extended.resolve(email="123+bobby@users.noreply.github.com") == "bobby"
    assert extended.resolve(email="bob@old.example") == "bobby"
    helper = extended.by_id()["helper"]
    assert helper.bot_reason == "GitHub account type Bot (login 'helper')"
    assert helper.emails == ["helper@users.noreply.github.com"]


def test_extend_table_without_a_table_is_a_build() -> None:
    commits = [commit("1", "Ann", "ann@x.org", login="ann"), commit("2", "Ben", "ben@x.org")]
    assert extend_table(None, commits, tz=UTC) == table_of(commits)


def test_the_table_survives_a_json_round_trip() -> None:
    table = table_of(
        [commit("1", "Dana Dee", "dana@a.example"), commit("2", "Dana Dee", "dana@b.example")],
        [pull(1, "dana", "2024-05-01T00:00:00Z")],
    )
    assert ContributorsTable.model_validate(table.model_dump(mode="json")) == table


def test_instants_are_utc_whatever_the_input_offset() -> None:
    when = dt.datetime(2024, 5, 1, 22, 0, tzinfo=ZoneInfo("Europe/Berlin"))
    table = table_of([commit("1", "Uli", "uli@x.org", when.isoformat())])
    # 22:00 CEST (UTC+2) is 20:00Z.
    assert table.contributors[0].first_commit == "2024-05-01T20:00:00+00:00"
