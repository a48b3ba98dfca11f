"""Sparky's configuration: `sparky.toml` validated by pydantic, with one clear error per problem.

The file is found at `$SPARKY_CONFIG` (default `./sparky.toml`). Relative paths in it are
resolved against the file's own folder, so `SPARKY_CONFIG=/etc/sparky/sparky.toml` works from
any working directory. Secrets never come from this file: only from the environment.
"""

from __future__ import annotations

import datetime as dt
import fnmatch
import hashlib
import os
import re
import tomllib
from functools import cache
from pathlib import Path
from typing import Annotated, Any, Literal
from urllib.parse import unquote, urlsplit
from zoneinfo import ZoneInfo, ZoneInfoNotFoundError

from pydantic import (
    AfterValidator,
    BaseModel,
    ConfigDict,
    Field,
    HttpUrl,
    ValidationError,
    ValidationInfo,
    field_validator,
    model_validator,
)

CONFIG_ENV = "SPARKY_CONFIG"
DEFAULT_CONFIG = "sparky.toml"
DEFAULT_BOTS = ["dependabot[bot]", "renovate[bot]", "github-actions[bot]", "pre-commit-ci[bot]"]
# `[identity].bot_patterns`: CI and automation identities that are not GitHub Apps (no "[bot]"
# suffix) and that GitHub does not report as Bot accounts. Each is a regular expression matched
# case-insensitively against the WHOLE of a login, an author name or an email's local part, so
# "ci" marks "CI" and ci@corp.example but never "Chris". Where a tool documents the identity it
# commits as, the source is named; the others are the product's own name, which its users set
# as user.name (those tools document no default committer).
DEFAULT_BOT_PATTERNS = [
    # GitHub Actions. The app commits as github-actions[bot]
    # <41898282+github-actions[bot]@users.noreply.github.com> (the "[bot]" rule), but many
    # workflows still run `git config user.name "GitHub Action"` with
    # `user.email action@github.com` (or "GitHub Actions" / actions@github.com), the identity
    # used before actions/checkout documented the app's (https://github.com/actions/checkout,
    # "Push a commit using the built-in token"; https://github.com/actions/checkout/issues/13).
    r"github[ ._-]?actions?",
    r"actions?",
    # Jenkins, TeamCity, Buildkite: by product name ("Jenkins", "TeamCity Build Agent",
    # buildkite-agent, the user the Buildkite agent's packages run as:
    # https://buildkite.com/docs/agent/v3/ubuntu).
    r"jenkins(?:[ ._-]?(?:ci|bot|build|user|agent))?",
    r"teamcity(?:[ ._-]?(?:build[ ._-]?)?(?:agent|bot|ci|server))?",
    r"buildkite(?:[ ._-]?(?:agent|bot|ci))?",
    # Travis CI: GitHub Pages deployments (dpl v1) commit as "Deployment Bot"
    # <deploy@travis-ci.org> unless committer_from_gh is set
    # (https://docs.travis-ci.com/user/deployment/pages/); build commits as "Travis CI".
    r"travis(?:[ ._-]?ci)?(?:[ ._-]?bot)?",
    r"deployment bot(?: \(from travis ci\))?",
    # GitLab: project and group access tokens act through bot users named
    # project_{id}_bot_{suffix} / group_{id}_bot_{suffix}, e-mail
    # project{id}_bot{n}@noreply.{host}
    # (https://docs.gitlab.com/ee/user/project/settings/project_access_tokens.html#bot-users-for-projects,
    # https://gitlab.com/gitlab-org/gitlab/-/issues/336670); "GitLab CI" by name.
    r"(?:project|group)_?\d+_bot\w*",
    r"gitlab(?:[ ._-]?(?:ci|bot|runner))?",
    # Azure Pipelines: jobs act as "Project Collection Build Service ({org})" or
    # "{project} Build Service ({org})"
    # (https://learn.microsoft.com/en-us/azure/devops/pipelines/process/access-tokens).
    r"(?:.+ )?build service(?: \(.+\))?",
    # Generic build and CI accounts: "Build Server" <build@...>, "build bot", buildbot, "CI",
    # ci-bot, "CI User", ci-runner.
    r"build(?:[ ._-]?(?:server|bot|agent|user|master|er))?",
    r"ci(?:[ ._-]?(?:bot|user|runner|agent|build))?",
    # semantic-release: release commits by @semantic-release-bot
    # <semantic-release-bot@martynus.net> unless GIT_AUTHOR_NAME is set
    # (https://github.com/semantic-release/git#environment-variables).
    r"semantic[ ._-]release(?:[ ._-]?bot)?",
    # Renovate: gitAuthor's default "Renovate Bot" (https://docs.renovatebot.com/
    # configuration-options/#gitauthor); the hosted app once used bot@renovateapp.com.
    r"renovate(?:[ ._-]?bot)?",
    # Dependabot (and Dependabot Preview) where a commit lost the app's "[bot]" form.
    r"dependabot(?:[ ._-]?preview)?",
    # pre-commit.ci commits as pre-commit-ci[bot] (pre-commit-ci-lite[bot] for the lite app).
    r"pre-commit-ci(?:-lite)?",
    # Snyk: "All the commits in Snyk's pull requests are done by snyk-bot@snyk.io" (Snyk's
    # docs on fix pull requests, https://docs.snyk.io/scan-with-snyk/pull-requests).
    r"snyk[ ._-]?bot",
    # Imgbot: "The author and committer ... are set to ImgBotApp<ImgBotHelp@gmail.com>"
    # (https://imgbot.net/docs/, Security).
    r"imgbot(?:app|help)?",
    # all-contributors commits as allcontributors[bot]
    # (https://allcontributors.org/docs/en/bot/overview).
    r"all-?contributors(?:[ ._-]?bot)?",
]
_SECRET_KEY = re.compile(r"token|secret|password|passwd|credential|api_key|_env$", re.IGNORECASE)


class ConfigError(ValueError):
    """A configuration problem, phrased for the person who edits `sparky.toml`."""


def _check_timezone(name: str) -> str:
    try:
        ZoneInfo(name)
    except (ZoneInfoNotFoundError, ValueError):
        raise ValueError(
            "expected an IANA time zone name such as 'UTC' or 'Europe/Berlin'"
        ) from None
    return name


def _check_not_blank(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty string")
    return value


TimeZoneName = Annotated[str, AfterValidator(_check_timezone)]
NonBlank = Annotated[str, AfterValidator(_check_not_blank)]


class _Section(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, strict=True)


class SparkySection(_Section):
    timezone: TimeZoneName = "UTC"
    start_date: dt.date
    data_dir: NonBlank = "data"
    output_dir: NonBlank = "output"

    @field_validator("start_date", mode="before")
    @classmethod
    def _parse_date(cls, value: Any) -> Any:
        # TOML has a native date type; a quoted "YYYY-MM-DD" string is accepted too.
        if isinstance(value, str):
            try:
                return dt.date.fromisoformat(value)
            except ValueError:
                raise ValueError("expected a date written as YYYY-MM-DD") from None
        if isinstance(value, dt.datetime):
            raise ValueError("expected a date (YYYY-MM-DD) without a time")
        return value

    @field_validator("start_date")
    @classmethod
    def _not_in_future(cls, value: dt.date, info: ValidationInfo) -> dt.date:
        # Today in the org's timezone, never the machine's; `now` is injectable for tests.
        tz = ZoneInfo(info.data.get("timezone") or "UTC")
        now = (info.context or {}).get("now") or dt.datetime.now(dt.UTC)
        today = now.astimezone(tz).date()
        if value > today:
            raise ValueError(f"expected a date that is not in the future (today is {today})")
        return value


class GitHubSection(_Section):
    org: str | None = None
    api_url: HttpUrl = HttpUrl("https://api.github.com")
    graphql_url: HttpUrl | None = None
    include: list[NonBlank] = Field(default_factory=lambda: ["*"])
    exclude: list[NonBlank] = Field(default_factory=list)
    # Longest sleep for an exhausted rate limit to reset; further away, the partition fails.
    max_wait_s: Annotated[float, Field(ge=0, le=3600)] = 900.0

    @field_validator("max_wait_s", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value

    @field_validator("api_url", "graphql_url", mode="before")
    @classmethod
    def _url_from_string(cls, value: Any) -> Any:
        return HttpUrl(value) if isinstance(value, str) else value

    @field_validator("org")
    @classmethod
    def _org_name(cls, value: str | None) -> str | None:
        if value is not None and not re.fullmatch(r"[A-Za-z0-9](?:[A-Za-z0-9-]{0,38})", value):
            raise ValueError("expected a GitHub organization login (letters, digits, '-')")
        return value


class LocalSection(_Section):
    repos: list[NonBlank] = Field(default_factory=list)
    # Commits on the local default branch that were never pushed; off by default because a
    # stale local branch whose work was squash-merged upstream would count twice.
    count_unpushed: bool = False
    git_timeout_s: Annotated[float, Field(gt=0, le=86400)] = 300.0

    @field_validator("git_timeout_s", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


def _check_pattern(value: str) -> str:
    """A `[identity].bot_patterns` item: a regular expression that compiles and that does not
    match an empty name (`.*` or `(ci)?` would mark every identity a bot)."""
    if not value.strip():
        raise ValueError("expected a non-empty regular expression")
    try:
        compiled = re.compile(value, re.IGNORECASE)
    except re.error as exc:
        raise ValueError(f"expected a regular expression (Python re syntax): {exc}") from None
    if compiled.fullmatch("") is not None:
        raise ValueError(
            "expected a regular expression that does not match an empty name "
            "(it would mark every identity a bot)"
        )
    return value


BotPattern = Annotated[str, AfterValidator(_check_pattern)]


class IdentitySection(_Section):
    bots: list[NonBlank] = Field(default_factory=lambda: list(DEFAULT_BOTS))
    # Regular expressions, each matched case-insensitively against the whole of a login, an
    # author name or an email's local part; [] turns the rule off.
    bot_patterns: list[BotPattern] = Field(default_factory=lambda: list(DEFAULT_BOT_PATTERNS))
    aliases: dict[str, NonBlank] = Field(default_factory=dict)

    @field_validator("aliases")
    @classmethod
    def _emails(cls, value: dict[str, str]) -> dict[str, str]:
        for alias, canonical in value.items():
            for email in (alias, canonical):
                if "@" not in email:
                    raise ValueError(f"expected email -> email pairs, got {email!r}")
        return {alias.lower(): canonical.lower() for alias, canonical in value.items()}


class LlmSection(_Section):
    """The local LLM (Ollama) that words the insights; without it the deterministic writer runs."""

    enabled: bool = True  # false: never ask Ollama (no probe, no warning)
    base_url: HttpUrl = HttpUrl("http://localhost:11434")
    model: NonBlank = "qwen2.5-coder:1.5b"
    timeout_s: Annotated[float, Field(gt=0, le=3600)] = 120.0
    connect_timeout_s: Annotated[float, Field(gt=0, le=600)] = 5.0
    max_retries: Annotated[int, Field(ge=0, le=10)] = 3
    num_ctx: Annotated[int, Field(ge=2048, le=1_048_576)] = 8192
    num_predict: Annotated[int, Field(ge=256, le=8192)] = 1024
    seed: int = 42
    keep_alive: NonBlank = "5m"  # how long the model stays loaded after a call ("0" frees the GPU)
    pull_missing: bool = False  # pull the model through /api/pull when it is missing
    map_repos: Annotated[int, Field(ge=1, le=500)] = 10  # repository summaries in a map-reduce
    max_concurrency: Annotated[int, Field(ge=1, le=64)] = 1

    @model_validator(mode="after")
    def _answer_fits(self) -> LlmSection:
        if self.num_predict * 2 > self.num_ctx:
            raise ValueError(
                f"num_predict ({self.num_predict}) must leave at least half of num_ctx "
                f"({self.num_ctx}) for the prompt"
            )
        return self

    @field_validator("base_url", mode="before")
    @classmethod
    def _url_from_string(cls, value: Any) -> Any:
        return HttpUrl(value) if isinstance(value, str) else value

    @field_validator("timeout_s", "connect_timeout_s", mode="before")
    @classmethod
    def _int_is_float(cls, value: Any) -> Any:
        return float(value) if isinstance(value, int) and not isinstance(value, bool) else value


_EMAIL = re.compile(r"[^@\s<>]+@[^@\s<>]+")
# git-check-ref-format(1): no space, `~^:?*[\\`, control characters, `..`, `@{`, no component
# starting with `.` or ending with `.lock`, no leading `-` (it would read as an option).
_BAD_REF = re.compile(r"[\x00-\x20\x7f~^:?*\[\\]|\.\.|@\{|//|^[-/]|/$|\.$|(^|/)\.|\.lock(/|$)")
# `scheme://userinfo@host...`: the userinfo runs to the authority's last `@` (RFC 3986 3.2.1).
_USERINFO = re.compile(r"(?P<scheme>[A-Za-z][A-Za-z0-9+.-]*://)(?P<userinfo>[^/?#\s]*)@")
# scp-like `userinfo@host:path` (git-clone(1), GIT URLS), at the start of a word.
_SCP_USERINFO = re.compile(r"(?<![^\s'\"(=])(?P<userinfo>[^\s'\"/@]+)@(?=[^\s'\"/@:]+:)")
# Token prefixes: GitHub's (https://github.blog/changelog/2021-03-31-authentication-token-format-
# updates-are-generally-available/, and `github_pat_` for fine-grained tokens), GitLab's `glpat-`.
_TOKEN_PREFIXES = ("ghp_", "gho_", "ghu_", "ghs_", "ghr_", "github_pat_", "glpat-")
_ALNUM_RUN = re.compile(r"[A-Za-z0-9]+")


def redact_userinfo(text: str) -> str:
    """`https://user:token@host/x` -> `https://<redacted>@host/x`, anywhere in `text`; an
    scp-like `user:password@host:path` likewise (a plain `git@host:path` is left alone)."""
    text = _USERINFO.sub(lambda m: f"{m['scheme']}<redacted>@", text)
    return _SCP_USERINFO.sub(
        lambda m: "<redacted>@" if _secret_userinfo(m["userinfo"]) else m[0], text
    )


def _token_like(user: str) -> bool:
    """A user name that is really a token: a known prefix, or long and random-looking (a run of
    20+ letters and digits mixed, as in a 40-hex classic token; names are words and dashes)."""
    user = unquote(user)
    if user.startswith(_TOKEN_PREFIXES):
        return True
    runs = _ALNUM_RUN.findall(user)
    mixed = [r for r in runs if re.search(r"\d", r) and re.search(r"[A-Za-z]", r)]
    return any(len(r) >= 20 for r in mixed) or (
        len(user) >= 32 and sum(map(len, mixed)) >= 0.8 * len(user)
    )


def _secret_userinfo(userinfo: str) -> bool:
    """`user:password` (any password part, even empty) or a token-like user."""
    user, colon, _password = userinfo.partition(":")
    return bool(colon) or _token_like(user)


def url_credentials(url: str) -> bool:
    """Whether a remote URL carries credentials, in any scheme: any userinfo over http(s)
    (`git+https://` included), else a password or a token-like user; an scp-like
    `user:password@host:path` too.

    `ssh://git@host/x` and `git@host:org/x.git` name the ssh user, which is not a secret;
    `https://token@host/x`, `ssh://user:password@host/x` and `ssh://ghp_…@host/x` carry one.
    """
    url = url.strip()
    match = _USERINFO.match(url)
    if match is not None:
        schemes = match["scheme"][:-3].lower().split("+")
        if any(s in ("http", "https") for s in schemes):
            return bool(match["userinfo"])
        return _secret_userinfo(match["userinfo"])
    if "://" in url or not is_url(url):
        return False
    head = url.split("/", 1)[0]  # scp-like: the userinfo and host come before the first slash
    userinfo, at, rest = head.rpartition("@")
    return bool(at) and ":" in rest and _secret_userinfo(userinfo)


def is_url(remote: str) -> bool:
    """A git URL (`scheme://...` or scp-like `host:path`), as opposed to a local path.

    git's rule (git-clone(1), GIT URLS): scp-like syntax has a colon before the first slash.
    """
    if "://" in remote:
        return True
    head = remote.split("/", 1)[0]
    return (":" in head and not re.fullmatch(r"[A-Za-z]:", head[:2])) or head.count(":") > 1


def publish_clone_name(remote: str) -> str:
    """A folder name for Sparky's own clone of a remote: its last path part, made safe, plus
    a short hash of the whole URL (two remotes named `docs` get two folders)."""
    clean = redact_userinfo(remote.strip()).rstrip("/")
    last = re.split(r"[/:\\]", clean)[-1]
    last = last[:-4] if last.endswith(".git") else last
    safe = re.sub(r"[^A-Za-z0-9._-]+", "-", last).strip(".-")[:40] or "remote"
    digest = hashlib.sha256(remote.strip().encode("utf-8")).hexdigest()[:10]
    return f"{safe}-{digest}"


def sparky_work_tree(start: Path) -> Path | None:
    """The git work tree holding `start`: the nearest folder at or above it with a `.git`
    (a folder, or a file as in linked worktrees and submodules)."""
    for folder in (start, *start.parents):
        if (folder / ".git").exists():
            return folder
    return None


def _check_branch(value: str) -> str:
    if _BAD_REF.search(value):
        raise ValueError("expected a git branch name (see git-check-ref-format)")
    return value


def _check_email(value: str) -> str:
    if not _EMAIL.fullmatch(value):
        raise ValueError("expected an email address such as 'sparky@localhost'")
    return value


def _check_subdir(value: str) -> str:
    if not value:
        return value
    path = Path(value)
    if path.is_absolute() or value.startswith(("/", "\\", "~")):
        raise ValueError("expected a folder relative to the publish repository, not absolute")
    parts = re.split(r"[/\\]", value)
    if any(part == ".." for part in parts):
        raise ValueError("expected a folder inside the publish repository (no '..')")
    if any(part.lower() == ".git" for part in parts):
        raise ValueError("expected a folder outside the repository's .git")
    return value


WaitDays = Annotated[float, Field(gt=0, le=365, allow_inf_nan=False)]


class DigestSection(_Section):
    """What a digest's "Needs attention" counts as waiting too long (days, fractions allowed)."""

    review_wait_days: WaitDays = 2.0  # a pull request this long without a first review
    answer_wait_days: WaitDays = 3.0  # an issue this long without an answer


def _check_site_url(value: str | None) -> str | None:
    """An absolute http(s) URL without credentials, its trailing slashes removed (the feed
    joins paths to it with "/")."""
    if value is None:
        return None
    text = value.strip()
    parts = urlsplit(text)
    if parts.scheme.lower() not in ("http", "https") or not parts.hostname:
        raise ValueError("expected an http(s) URL such as 'https://acme.github.io/digests'")
    if "@" in parts.netloc:
        raise ValueError("expected a URL without a user or password before '@'")
    if parts.query or parts.fragment:
        raise ValueError("expected a URL without '?query' or '#fragment'")
    return text.rstrip("/")


class PublishSection(_Section):
    """Where digests are committed: a separate git work tree (`repo`), or Sparky's own clone of
    `remote` under `<data_dir>/cache/publish/`. Both empty: publishing is not configured."""

    repo: str = ""
    remote: str = ""
    branch: Annotated[str, AfterValidator(_check_not_blank), AfterValidator(_check_branch)] = "main"
    push: bool = False
    author_name: NonBlank = "Sparky"
    author_email: Annotated[str, AfterValidator(_check_email)] = "sparky@localhost"
    subdir: Annotated[str, AfterValidator(_check_subdir)] = ""
    # Where the published digests are served; set, the feed and index link to it absolutely.
    site_url: Annotated[str | None, AfterValidator(_check_site_url)] = None

    @field_validator("remote")
    @classmethod
    def _no_credentials(cls, value: str) -> str:
        if url_credentials(value):
            raise ValueError(
                "expected a URL without a password or token before '@': secrets are not read "
                "from the config file (https: set SPARKY_PUBLISH_TOKEN in the environment; ssh: "
                "use your ssh key)"
            )
        return value

    @property
    def configured(self) -> bool:
        return bool(self.repo.strip() or self.remote.strip())


# `[teams.<name>]`: names as GitHub's team slugs are written (lowercase letters, digits, '-',
# '_'), so a config team and the GitHub team of the same slug are one team.
TEAM_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")
DEFAULT_TAG_PATTERN = r"^v?\d+(\.\d+)*$"


def _check_path_glob(value: str) -> str:
    """A `[teams.<name>].paths` item: a gitignore-style glob as CODEOWNERS reads it.

    Checked with pathspec, the matcher `sparky_assets/lib/teams.py` uses (sparky_resources does
    not import sparky_assets): the syntax GitHub's "About code owners" says does not work in
    CODEOWNERS (an escaped leading `#`, `!` negation, `[ ]` ranges) and a pattern that can match
    nothing are refused here rather than silently owning nothing.
    """
    from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

    if not value.strip():
        raise ValueError("expected a non-empty path glob")
    if value.startswith("\\#"):
        raise ValueError("expected a path glob: escaping a leading '#' does not work in CODEOWNERS")
    if value.startswith("!"):
        raise ValueError("expected a path glob: '!' negation does not work in CODEOWNERS")
    if "[" in value or "]" in value:
        raise ValueError("expected a path glob: '[ ]' character ranges do not work in CODEOWNERS")
    if GitIgnoreSpecPattern(value).include is None:
        raise ValueError("expected a path glob that can match a file (this one matches nothing)")
    return value


PathGlob = Annotated[str, AfterValidator(_check_path_glob)]


def _check_team_name(value: str) -> str:
    if not TEAM_NAME.fullmatch(value):
        raise ValueError(
            "expected a team name written like a GitHub team slug: lowercase letters, digits, "
            "'-' and '_', starting with a letter or digit"
        )
    return value


TeamName = Annotated[str, AfterValidator(_check_team_name)]


class TeamSection(_Section):
    """One `[teams.<name>]`: repository-name globs (as `[github].include`) and path globs
    inside them; `repos` alone owns whole repositories, `paths` alone those paths everywhere."""

    repos: list[NonBlank] = Field(default_factory=list)
    paths: list[PathGlob] = Field(default_factory=list)

    @model_validator(mode="after")
    def _owns_something(self) -> TeamSection:
        if not self.repos and not self.paths:
            raise ValueError("expected at least one of repos or paths to be non-empty")
        return self


class TeamsSection(_Section):
    """`[teams]`: `from_github` and, in the same TOML table, one `[teams.<name>]` per team."""

    from_github: bool = False  # also the org's GitHub teams and each repository's CODEOWNERS
    teams: dict[TeamName, TeamSection] = Field(default_factory=dict)

    @model_validator(mode="before")
    @classmethod
    def _split(cls, data: Any) -> Any:
        # TOML puts `from_github` and the team tables side by side; every other key is a team
        # (a team may even be called "teams"). Input is always the TOML shape.
        if not isinstance(data, dict):
            return data
        rest = dict(data)
        split: dict[str, Any] = {"teams": rest}
        if "from_github" in rest:
            split["from_github"] = rest.pop("from_github")
        return split


def _check_regex(value: str) -> str:
    if not value.strip():
        raise ValueError("expected a non-empty regular expression")
    try:
        re.compile(value)
    except re.error as exc:
        raise ValueError(f"expected a regular expression (Python re syntax): {exc}") from None
    return value


class DoraSection(_Section):
    """`[dora]`: where deployments come from for DORA's four keys, and what an incident is."""

    # GitHub deployments (with their statuses), releases, or tags matching tag_pattern.
    source: Literal["deployments", "releases", "tags"] = "releases"
    environment: NonBlank = "production"  # the deployments' environment (source = deployments)
    tag_pattern: Annotated[str, AfterValidator(_check_regex)] = DEFAULT_TAG_PATTERN
    incident_labels: list[NonBlank] = Field(default_factory=lambda: ["incident"])


# `[[deliver]]`: where each digest's first screen is posted (sparky_resources/deliver.py).
DeliverKind = Literal["slack", "discord", "email", "webhook"]
# An environment variable's name (POSIX: letters, digits, '_', not starting with a digit).
ENV_NAME = re.compile(r"[A-Za-z_][A-Za-z0-9_]*")
TARGET_NAME = re.compile(r"[a-z0-9][a-z0-9_-]*")


def _check_env_name(value: str | None) -> str | None:
    if value is not None and not ENV_NAME.fullmatch(value):
        raise ValueError(
            "expected the NAME of an environment variable (letters, digits, '_'), not its value: "
            "secrets are never written in the config file"
        )
    return value


def _check_target_name(value: str | None) -> str | None:
    if value is not None and not TARGET_NAME.fullmatch(value):
        raise ValueError("expected lowercase letters, digits, '-' or '_' (it names the ledger)")
    return value


EnvName = Annotated[str | None, AfterValidator(_check_env_name)]


class DeliverTarget(_Section):
    """One `[[deliver]]` entry: a chat webhook, a mailbox or a webhook that gets each digest's
    first screen. Secrets (webhook URLs, SMTP passwords) only ever come from the environment
    variables named by `url_env` / `password_env`."""

    kind: DeliverKind
    # Names the target in the delivery ledger and the run metadata; default `<kind>-<n>`
    # (its position among the entries), so set it before reordering entries.
    name: Annotated[str | None, AfterValidator(_check_target_name)] = None
    periods: list[Literal["daily", "weekly", "monthly"]] = Field(
        default_factory=lambda: ["daily", "weekly", "monthly"], min_length=1
    )
    teams: list[TeamName] | None = None  # None: the org's digests; a list: those teams' digests
    url_env: EnvName = None  # slack, discord, webhook: the variable holding the URL
    password_env: EnvName = None  # email: the variable holding the SMTP password (optional)
    smtp_host: str | None = None
    smtp_port: int = Field(default=587, ge=1, le=65535)
    username: str | None = None  # email: SMTP login (default: `from`)
    sender: str | None = Field(default=None, alias="from")
    to: list[str] = Field(default_factory=list)

    model_config = ConfigDict(extra="forbid", frozen=True, strict=True, populate_by_name=True)

    @model_validator(mode="after")
    def _complete(self) -> DeliverTarget:
        if self.kind in ("slack", "discord", "webhook") and not self.url_env:
            raise ValueError(
                f"expected url_env in a {self.kind} target: the name of the environment "
                "variable that holds its webhook URL"
            )
        if self.kind == "email":
            missing = [
                k
                for k in ("smtp_host", "from", "to")
                if not getattr(self, {"from": "sender"}.get(k, k))
            ]
            if missing:
                raise ValueError(f"expected {', '.join(missing)} in an email target")
            for address in [self.sender or "", *self.to]:
                _check_email(address)
        elif self.smtp_host or self.sender or self.to or self.password_env:
            raise ValueError(
                f"expected no smtp_host, from, to or password_env in a {self.kind} target "
                "(they are for email targets)"
            )
        return self


class SparkyConfig(BaseModel):
    """The whole `sparky.toml`. `base_dir` is the file's folder (not read from the file)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    sparky: SparkySection
    github: GitHubSection = Field(default_factory=GitHubSection)
    local: LocalSection = Field(default_factory=LocalSection)
    identity: IdentitySection = Field(default_factory=IdentitySection)
    llm: LlmSection = Field(default_factory=LlmSection)
    digest: DigestSection = Field(default_factory=DigestSection)
    publish: PublishSection = Field(default_factory=PublishSection)
    teams: TeamsSection = Field(default_factory=TeamsSection)
    dora: DoraSection = Field(default_factory=DoraSection)
    deliver: list[DeliverTarget] = Field(default_factory=list)
    base_dir: Path = Field(default=Path("."), exclude=True)

    @property
    def deliver_targets(self) -> list[DeliverTarget]:
        """`[[deliver]]` with every target named (`<kind>-<n>` where no name was given)."""
        return [
            t if t.name else t.model_copy(update={"name": f"{t.kind}-{i}"})
            for i, t in enumerate(self.deliver, start=1)
        ]

    @model_validator(mode="after")
    def _unique_targets(self) -> SparkyConfig:
        names = [t.name for t in self.deliver_targets]
        twice = sorted({n for n in names if names.count(n) > 1})
        if twice:
            raise ValueError(f"[[deliver]]: two targets are named {twice[0]!r}")
        return self

    @model_validator(mode="after")
    def _has_a_source(self) -> SparkyConfig:
        if not self.local.repos and not self.github.org:
            raise ValueError("set [github].org or list at least one clone in [local].repos")
        names = [repo_name(p) for p in self.local_repos]
        for name in dict.fromkeys(names):
            same = [raw for raw, n in zip(self.local.repos, names, strict=True) if n == name]
            if len(same) > 1:
                raise ValueError(
                    f"[local].repos = {same!r}: two clones share the name {name!r}; "
                    "expected clones in folders with different names"
                )
        return self

    @model_validator(mode="after")
    def _publish_outside_sparky(self) -> SparkyConfig:
        """A publish repository inside Sparky's own work tree would nest a repository in it
        (and Sparky's `git add` of its own files would meet it); inside output_dir or data_dir
        it would be overwritten or cleaned by Sparky itself."""
        raw = self.publish.repo
        if not raw.strip():
            return self
        target = self.resolve(raw)
        guarded = [
            ("Sparky's own work tree", sparky_work_tree(self.base_dir.resolve())),
            ("[sparky].output_dir", self.output_dir),
            ("[sparky].data_dir", self.data_dir),
        ]
        for what, folder in guarded:
            if folder is not None and target.is_relative_to(folder):
                raise ValueError(
                    f"[publish].repo = {raw!r}: inside {what} {folder}; publish to a separate "
                    "clone (set [publish].remote) or a folder outside it"
                )
        own = guarded[0][1]
        if own is not None and own.is_relative_to(target):
            raise ValueError(
                f"[publish].repo = {raw!r}: contains Sparky's own work tree {own}; publish to "
                "a separate clone (set [publish].remote) or a folder outside it"
            )
        return self

    @property
    def publish_remote(self) -> str:
        """`[publish].remote` as git gets it: a URL unchanged, a local path made absolute."""
        remote = self.publish.remote.strip()
        if not remote or is_url(remote):
            return remote
        return str(self.resolve(remote))

    @property
    def publish_target(self) -> Path | None:
        """The work tree digests are committed in: `[publish].repo`, else Sparky's clone of
        `[publish].remote` under `<data_dir>/cache/publish/`; None when neither is set."""
        if self.publish.repo.strip():
            return self.resolve(self.publish.repo)
        if self.publish.remote.strip():
            return self.data_dir / "cache" / "publish" / publish_clone_name(self.publish_remote)
        return None

    @property
    def tz(self) -> ZoneInfo:
        return ZoneInfo(self.sparky.timezone)

    def resolve(self, path: str) -> Path:
        """A path from the file, made absolute against the file's folder."""
        return (self.base_dir / Path(path).expanduser()).resolve()

    @property
    def data_dir(self) -> Path:
        return self.resolve(self.sparky.data_dir)

    @property
    def output_dir(self) -> Path:
        return self.resolve(self.sparky.output_dir)

    @property
    def local_repos(self) -> list[Path]:
        return [self.resolve(p) for p in self.local.repos]

    @property
    def ollama_url(self) -> str:
        """`OLLAMA_HOST` (Ollama's own variable, scheme optional) wins over `[llm].base_url`."""
        from sparky_resources.ollama import resolve_base_url  # one reading of OLLAMA_HOST

        return resolve_base_url(str(self.llm.base_url))

    def github_repo_selected(self, name: str) -> bool:
        inc = any(fnmatch.fnmatchcase(name, pat) for pat in self.github.include)
        return inc and not any(fnmatch.fnmatchcase(name, pat) for pat in self.github.exclude)


def work_tree_path(path: str | Path) -> Path:
    """The folder Sparky runs git in: a path to a clone's `.git` folder means its work tree.

    Run from inside `.git`, git sees no work tree, so the clone's `.mailmap` would be lost.
    """
    p = Path(path).expanduser().resolve()
    return p.parent if p.name == ".git" and p.parent != p else p


def repo_name(path: str | Path) -> str:
    """A clone's display name: its work tree's folder name, without a bare repository's `.git`."""
    name = work_tree_path(path).name
    return name[:-4] if name.endswith(".git") and len(name) > 4 else name


def config_path() -> Path:
    return Path(os.environ.get(CONFIG_ENV) or DEFAULT_CONFIG).expanduser().resolve()


def load_config(path: str | Path | None = None, *, now: dt.datetime | None = None) -> SparkyConfig:
    """Read and validate a config file; raise ConfigError with one line per problem.

    `now` (an aware instant) is the clock "start_date is not in the future" is checked against.
    """
    file = Path(path).expanduser().resolve() if path is not None else config_path()
    where = str(file)
    try:
        text = file.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise ConfigError(
            f"{where}: config file not found (set {CONFIG_ENV} or copy the example sparky.toml)"
        ) from None
    except (IsADirectoryError, PermissionError, UnicodeDecodeError) as exc:
        raise ConfigError(f"{where}: cannot read config file: {exc.__class__.__name__}") from None
    try:
        raw = tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise ConfigError(f"{where}: not valid TOML: {exc}") from None
    if "base_dir" in raw:  # set from the file's location, never from its content
        raise ConfigError(
            f"{where}: [base_dir]: unknown key (check the spelling against the example sparky.toml)"
        ) from None
    try:
        return SparkyConfig.model_validate(
            {**raw, "base_dir": file.parent}, context={"now": now} if now else None
        )
    except ValidationError as exc:
        raise ConfigError("\n".join(_describe(where, err) for err in exc.errors())) from None


def _describe(where: str, err: Any) -> str:
    """One line: file, `[section].key`, the bad value (never a secret) and what was expected."""
    loc = [str(part) for part in err["loc"]]
    kind = err["type"]
    team = loc[:2] == ["teams", "teams"] and len(loc) > 2
    if team:
        # `[teams.<name>]` as written in the file (TeamsSection keeps the tables under `teams`);
        # a bad name is reported on its table (pydantic's "[key]" marks a dict key's error).
        loc = [f"teams.{loc[2]}", *[p for p in loc[3:] if p != "[key]"]]
        if kind == "model_type" and len(loc) == 1:
            return (
                f"{where}: [{loc[0]}] = {_shown(err.get('input'), loc[0])}: expected a table "
                "with repos and/or paths (from_github is the only other key of [teams])"
            )
    if loc:
        key = f"[{loc[0]}]" + "".join(f"[{p}]" if p.isdigit() else f".{p}" for p in loc[1:])
    else:
        key = "(top level)"
    if kind == "extra_forbidden":
        if _SECRET_KEY.search(loc[-1]):
            return (
                f"{where}: {key}: secrets are not read from the config file; "
                "set them in the environment (e.g. GITHUB_TOKEN)"
            )
        return f"{where}: {key}: unknown key (check the spelling against the example sparky.toml)"
    if kind == "missing":
        return f"{where}: {key}: required key is missing"
    message = err["msg"].removeprefix("Value error, ")
    if kind == "value_error" and len(loc) == 0:
        return f"{where}: {message}"
    if team and err["loc"][-1] == "[key]":
        return f"{where}: {key}: {_expected(message)}"
    return f"{where}: {key} = {_shown(err.get('input'), key)}: {_expected(message)}"


def _shown(value: Any, key: str) -> str:
    """A bad value as written in the file, shortened, never a secret."""
    # A date as written in the file (2099-01-01), not Python's datetime.date(2099, 1, 1).
    shown = value.isoformat() if isinstance(value, dt.date | dt.time) else repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    if _SECRET_KEY.search(key):
        shown = "<redacted>"
    if key.startswith("[deliver]") and isinstance(value, dict):
        # A whole [[deliver]] entry: its kind and name only (a URL pasted anywhere stays out).
        shown = repr({k: value[k] for k in ("kind", "name") if k in value})
    return redact_userinfo(shown)


def _expected(message: str) -> str:
    """Pydantic's "Input should be X" as "expected X"."""
    if message.startswith("expected"):
        return message
    rest = message.removeprefix("Input should be ")
    if rest != message:
        if rest.startswith(("greater", "less")):
            rest = "a number " + rest
        return f"expected {rest}"
    if message[:1].isupper() and not message[1:2].isupper():
        message = message[:1].lower() + message[1:]
    return f"expected {message}"


@cache
def get_config() -> SparkyConfig:
    """The process-wide config, read once (Dagster loads definitions once per process)."""
    return load_config()
