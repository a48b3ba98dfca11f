"""Which teams own a repository, a path, a pull request or a commit.

Pure and Dagster-free. Two sources, unioned:

* config teams: `Team(name, repos, paths)`. `repos` are shell globs on the repository name,
  matched like `[github].include` (`fnmatch.fnmatchcase`); `paths` are gitignore-style globs
  inside those repositories, with the same syntax as a CODEOWNERS pattern. A team with `repos`
  and no `paths` owns those whole repositories; one with `paths` and no `repos` owns those paths
  in every repository.
* each repository's CODEOWNERS, parsed as GitHub documents it in "About code owners":
  https://docs.github.com/en/repositories/managing-your-repositorys-settings-and-features/customizing-your-repository/about-code-owners
  Only `@org/team-slug` owners name teams; `@user` and email owners are kept but name no team.

Glob matching is pathspec's gitignore pattern (`GitIgnoreSpecPattern`, Git's own behaviour),
with CODEOWNERS' documented differences applied on top (see `_compile`).
"""

from __future__ import annotations

import fnmatch
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from pathspec.patterns.gitignore.spec import GitIgnoreSpecPattern

# "About code owners": GitHub looks in .github/, the root, then docs/, and uses the first found.
CODEOWNERS_LOCATIONS: tuple[str, ...] = (".github/CODEOWNERS", "CODEOWNERS", "docs/CODEOWNERS")


class UnsupportedPattern(ValueError):
    """A pattern using gitignore syntax that CODEOWNERS does not support."""


@dataclass(frozen=True)
class Team:
    """A team from config: repository globs and path globs inside them."""

    name: str
    repos: list[str] = field(default_factory=list)
    paths: list[str] = field(default_factory=list)


@dataclass(frozen=True)
class _Glob:
    """One compiled path pattern with CODEOWNERS' semantics."""

    text: str
    pattern: GitIgnoreSpecPattern
    files_only: bool

    def matches(self, path: str) -> bool:
        result = self.pattern.match_file(path.lstrip("/"))
        if result is None:
            return False
        # A match that stops at a directory boundary (pathspec's `ps_d` group) owns the files
        # below that directory, as in gitignore, except for a trailing `/*`: the doc's example
        # says `docs/*` matches `docs/getting-started.md` "but not further nested files like
        # `docs/build-app/troubleshooting.md`".
        return not (self.files_only and result.match.groupdict().get("ps_d"))


def _compile(text: str) -> _Glob:
    """Compile a CODEOWNERS/config path pattern, refusing what CODEOWNERS does not support.

    The doc's warning: escaping a leading `#` with `\\`, `!` negation and `[ ]` character
    ranges do not work in CODEOWNERS. GitHub flags such lines as errors; so do we.
    """
    if text.startswith("\\#"):
        raise UnsupportedPattern(f"escaping a leading # does not work in CODEOWNERS: {text!r}")
    if text.startswith("!"):
        raise UnsupportedPattern(f"! negation does not work in CODEOWNERS: {text!r}")
    if "[" in text or "]" in text:
        raise UnsupportedPattern(f"[ ] character ranges do not work in CODEOWNERS: {text!r}")
    pattern = GitIgnoreSpecPattern(text)
    if pattern.include is None:
        raise UnsupportedPattern(f"pattern matches nothing: {text!r}")
    return _Glob(text=text, pattern=pattern, files_only=text.endswith("/*"))


@dataclass(frozen=True)
class Rule:
    """One CODEOWNERS line: a pattern and its owners (none means: no owner)."""

    line: int
    pattern: str
    owners: tuple[str, ...]


@dataclass(frozen=True)
class CodeOwners:
    """A parsed CODEOWNERS file; `errors` are the skipped lines, as (line number, reason)."""

    rules: tuple[Rule, ...]
    errors: tuple[tuple[int, str], ...] = ()
    _globs: tuple[_Glob, ...] = field(default=(), repr=False, compare=False)

    def owners_of(self, path: str) -> tuple[str, ...]:
        """Owners of one path: the LAST matching pattern wins ("About code owners")."""
        for rule, glob in zip(reversed(self.rules), reversed(self._globs), strict=True):
            if glob.matches(path):
                return rule.owners
        return ()


def parse_codeowners(text: str) -> CodeOwners:
    """Parse CODEOWNERS text: `pattern owner...`, `#` comments (whole-line or inline).

    The doc's example file has an inline comment (`*.js @js-owner #This is an inline comment.`),
    so a token starting with `#` ends the line. A line with invalid syntax is skipped, as
    GitHub does, and reported in `errors`.
    """
    rules: list[Rule] = []
    globs: list[_Glob] = []
    errors: list[tuple[int, str]] = []
    for number, raw in enumerate(text.splitlines(), start=1):
        tokens = raw.split()
        for i, token in enumerate(tokens):
            if token.startswith("#"):
                tokens = tokens[:i]
                break
        if not tokens:
            continue
        pattern, owners = tokens[0], tuple(tokens[1:])
        bad = [o for o in owners if not _valid_owner(o)]
        if bad:
            errors.append((number, f"invalid owner {bad[0]!r}"))
            continue
        try:
            glob = _compile(pattern)
        except UnsupportedPattern as exc:
            errors.append((number, str(exc)))
            continue
        rules.append(Rule(line=number, pattern=pattern, owners=owners))
        globs.append(glob)
    return CodeOwners(rules=tuple(rules), errors=tuple(errors), _globs=tuple(globs))


def _valid_owner(owner: str) -> bool:
    """`@user`, `@org/team-name` or an email address, the three forms the doc lists."""
    if owner.startswith("@"):
        return len(owner) > 1 and owner.count("/") <= 1 and not owner.endswith("/")
    local, at, domain = owner.partition("@")
    return bool(local and at and domain)


def pick_codeowners(files: Mapping[str, str]) -> tuple[str, str] | None:
    """The CODEOWNERS GitHub uses among a repository's files: (location, text), or None."""
    for location in CODEOWNERS_LOCATIONS:
        if location in files:
            return location, files[location]
    return None


def team_slug(owner: str, org: str | None = None) -> str | None:
    """The team slug of an `@org/team-slug` owner (of `org`, when given), else None."""
    if not owner.startswith("@") or "/" not in owner:
        return None
    owner_org, _, slug = owner[1:].partition("/")
    if org is not None and owner_org.lower() != org.lower():
        return None
    return slug.lower()


class Ownership:
    """Teams owning paths: config teams plus each repository's CODEOWNERS."""

    def __init__(
        self,
        teams: Iterable[Team] = (),
        codeowners_files: Mapping[str, Mapping[str, str]] | None = None,
        *,
        team_names: Mapping[str, str] | None = None,
        org: str | None = None,
    ) -> None:
        """`codeowners_files`: repo -> {path in the repo: text} for the candidate locations.

        `team_names` maps a team slug to the team's name (default: the slug itself);
        `org`, when given, keeps only that organization's `@org/team` owners.
        """
        self.teams = list(teams)
        self._paths = {t.name: [_compile(p) for p in t.paths] for t in self.teams}
        self._names = {k.lower(): v for k, v in (team_names or {}).items()}
        self._org = org
        self.codeowners: dict[str, CodeOwners] = {}
        for repo, files in (codeowners_files or {}).items():
            picked = pick_codeowners(files)
            if picked is not None:
                self.codeowners[repo] = parse_codeowners(picked[1])

    def _config_teams(self, repo: str, paths: list[str]) -> set[str]:
        owned: set[str] = set()
        for team in self.teams:
            if team.repos and not any(fnmatch.fnmatchcase(repo, g) for g in team.repos):
                continue
            globs = self._paths[team.name]
            if not globs:
                if team.repos:
                    owned.add(team.name)
            elif any(g.matches(p) for g in globs for p in paths):
                owned.add(team.name)
        return owned

    def _codeowners_teams(self, repo: str, paths: list[str]) -> set[str]:
        codeowners = self.codeowners.get(repo)
        if codeowners is None:
            return set()
        owned: set[str] = set()
        for path in paths:
            for owner in codeowners.owners_of(path):
                slug = team_slug(owner, self._org)
                if slug is not None:
                    owned.add(self._names.get(slug, slug))
        return owned

    def teams_of_paths(self, repo: str, paths: Iterable[str]) -> set[str]:
        """Teams owning any of `paths` in `repo`, or the whole repository."""
        paths = list(paths)
        return self._config_teams(repo, paths) | self._codeowners_teams(repo, paths)

    def teams_of_pull_request(self, repo: str, files: list[str]) -> set[str]:
        """Teams owning any file the pull request changed."""
        return self.teams_of_paths(repo, files)

    def teams_of_commit(self, repo: str, paths: list[str]) -> set[str]:
        """Teams owning any path the commit changed."""
        return self.teams_of_paths(repo, paths)
