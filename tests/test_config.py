"""Tests for `sparky_resources.config`: loading, defaults, path resolution and error messages."""

from __future__ import annotations

import datetime as dt
import re
from pathlib import Path
from zoneinfo import ZoneInfo

import pytest

from sparky_resources.config import (
    CONFIG_ENV,
    DEFAULT_BOT_PATTERNS,
    DEFAULT_BOTS,
    ConfigError,
    SparkyConfig,
    load_config,
    repo_name,
)
from sparky_resources.org import OrgResource

MINIMAL = '[sparky]\nstart_date = 2024-01-01\n[local]\nrepos = ["."]\n'

FULL = """\
[sparky]
timezone = "Europe/Berlin"
start_date = 2025-01-01
data_dir = "data"
output_dir = "output"
[github]
org = "raibid-labs"
api_url = "https://api.github.com"
include = ["*"]
exclude = ["archived-*"]
[local]
repos = ["."]
[identity]
bots = ["dependabot[bot]"]
bot_patterns = ["ci-.*", "(?:nightly|release) builder"]
aliases = { "old@example.com" = "new@example.com" }
[digest]
review_wait_days = 1.5
answer_wait_days = 7
[llm]
base_url = "http://localhost:11434"
model = "qwen2.5-coder:1.5b"
timeout_s = 120
max_concurrency = 1
[publish]
repo = "../docs-site"
remote = "https://github.com/raibid-labs/docs.git"
branch = "digests"
push = true
author_name = "Digest Bot"
author_email = "bot@example.com"
subdir = "digests/sparky"
site_url = "https://raibid-labs.github.io/docs/digests/"
"""


def org_today(timezone: str = "UTC") -> dt.date:
    """Today where the config says (never the machine's `dt.date.today()`)."""
    return dt.datetime.now(ZoneInfo(timezone)).date()


# Well past tomorrow in every timezone, whatever the time of day (the files below default to UTC).
FUTURE = org_today("UTC") + dt.timedelta(days=30)
SECRET = "ghp_secret123"


def sparky(**keys: str) -> str:
    """A `[sparky]` section with a valid start_date, overridden or extended by `keys`."""
    values = {"start_date": "2024-01-01", **keys}
    return "[sparky]\n" + "".join(f"{k} = {v}\n" for k, v in values.items())


LOCAL = '[local]\nrepos = ["."]\n'


def write(folder: Path, text: str, name: str = "sparky.toml") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / name
    path.write_text(text, encoding="utf-8")
    return path


def load_error(path: Path, now: dt.datetime | None = None) -> str:
    with pytest.raises(ConfigError) as excinfo:
        load_config(path, now=now)
    # Raised `from None`: no chained pydantic/tomllib traceback rides along.
    assert excinfo.value.__suppress_context__
    assert excinfo.value.__cause__ is None
    return str(excinfo.value)


@pytest.fixture(autouse=True)
def _clean_env(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv(CONFIG_ENV, raising=False)
    monkeypatch.delenv("OLLAMA_HOST", raising=False)


# --- valid files ---------------------------------------------------------------------------------


def test_minimal_file_loads_with_documented_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))

    assert isinstance(cfg, SparkyConfig)
    assert cfg.sparky.start_date == dt.date(2024, 1, 1)
    assert cfg.sparky.timezone == "UTC"
    assert cfg.tz == ZoneInfo("UTC")
    assert cfg.sparky.data_dir == "data"
    assert cfg.sparky.output_dir == "output"
    assert cfg.base_dir == tmp_path.resolve()

    assert cfg.github.org is None
    assert str(cfg.github.api_url).rstrip("/") == "https://api.github.com"
    assert cfg.github.graphql_url is None
    assert cfg.github.include == ["*"]
    assert cfg.github.exclude == []

    assert cfg.local.repos == ["."]

    assert cfg.identity.bots == DEFAULT_BOTS
    assert "dependabot[bot]" in cfg.identity.bots
    assert "renovate[bot]" in cfg.identity.bots
    assert cfg.identity.aliases == {}
    assert cfg.identity.bot_patterns == DEFAULT_BOT_PATTERNS

    assert cfg.digest.review_wait_days == 2.0
    assert cfg.digest.answer_wait_days == 3.0

    assert str(cfg.llm.base_url).rstrip("/") == "http://localhost:11434"
    assert cfg.llm.model == "qwen2.5-coder:1.5b"
    assert cfg.llm.timeout_s == 120.0
    assert cfg.llm.max_concurrency == 1

    assert cfg.publish.repo == ""
    assert cfg.publish.remote == ""
    assert cfg.publish.branch == "main"
    assert cfg.publish.push is False
    assert cfg.publish.author_name == "Sparky"
    assert cfg.publish.author_email == "sparky@localhost"
    assert cfg.publish.subdir == ""
    assert cfg.publish.site_url is None
    assert cfg.publish_target is None


def test_default_bots_are_not_shared_between_configs(tmp_path: Path) -> None:
    a = load_config(write(tmp_path / "a", MINIMAL))
    b = load_config(write(tmp_path / "b", MINIMAL))
    assert a.identity.bots == b.identity.bots
    assert a.identity.bots is not b.identity.bots
    assert a.identity.bots is not DEFAULT_BOTS


def test_full_file_loads_every_value(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, FULL))

    assert cfg.sparky.timezone == "Europe/Berlin"
    assert cfg.tz == ZoneInfo("Europe/Berlin")
    assert cfg.sparky.start_date == dt.date(2025, 1, 1)
    assert cfg.data_dir == tmp_path.resolve() / "data"
    assert cfg.output_dir == tmp_path.resolve() / "output"

    assert cfg.github.org == "raibid-labs"
    assert str(cfg.github.api_url).rstrip("/") == "https://api.github.com"
    assert cfg.github.include == ["*"]
    assert cfg.github.exclude == ["archived-*"]
    assert cfg.github_repo_selected("sparky")
    assert not cfg.github_repo_selected("archived-old-thing")

    assert cfg.local_repos == [tmp_path.resolve()]

    assert cfg.identity.bots == ["dependabot[bot]"]
    assert cfg.identity.bot_patterns == ["ci-.*", "(?:nightly|release) builder"]
    assert cfg.identity.aliases == {"old@example.com": "new@example.com"}

    assert cfg.digest.review_wait_days == 1.5
    assert cfg.digest.answer_wait_days == 7.0  # an integer in the file reads as days
    assert isinstance(cfg.digest.answer_wait_days, float)

    assert str(cfg.llm.base_url).rstrip("/") == "http://localhost:11434"
    assert cfg.llm.model == "qwen2.5-coder:1.5b"
    assert cfg.llm.timeout_s == 120.0
    assert isinstance(cfg.llm.timeout_s, float)
    assert cfg.llm.max_concurrency == 1

    assert cfg.publish.repo == "../docs-site"
    assert cfg.publish.remote == "https://github.com/raibid-labs/docs.git"
    assert cfg.publish.branch == "digests"
    assert cfg.publish.push is True
    assert cfg.publish.author_name == "Digest Bot"
    assert cfg.publish.author_email == "bot@example.com"
    assert cfg.publish.subdir == "digests/sparky"
    assert cfg.publish.site_url == "https://raibid-labs.github.io/docs/digests"  # no trailing /
    assert cfg.publish_target == (tmp_path / ".." / "docs-site").resolve()


def test_github_org_alone_is_a_source(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, sparky() + '[github]\norg = "raibid-labs"\n'))
    assert cfg.github.org == "raibid-labs"
    assert cfg.local_repos == []


def test_quoted_start_date_is_accepted(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, sparky(start_date='"2024-02-29"') + LOCAL))
    assert cfg.sparky.start_date == dt.date(2024, 2, 29)


@pytest.mark.parametrize("timezone", ["UTC", "Pacific/Kiritimati", "Etc/GMT+12", "Etc/GMT-12"])
def test_todays_date_in_the_org_timezone_is_accepted(tmp_path: Path, timezone: str) -> None:
    # Read before loading: if midnight passes in between, this is yesterday, still accepted.
    today = org_today(timezone)
    text = sparky(start_date=today.isoformat(), timezone=f'"{timezone}"') + LOCAL
    cfg = load_config(write(tmp_path, text))
    assert cfg.sparky.start_date == today


# --- "not in the future" at a pinned instant ------------------------------------------------


# (org timezone, pinned instant, the org's today then), worked out by hand. In each case the
# machine's UTC date is different from the org's, or the instant is one second from midnight.
PINNED_TODAYS = [
    ("UTC", "2026-11-27T23:59:59+00:00", "2026-11-27"),
    ("UTC", "2026-11-28T00:00:00+00:00", "2026-11-28"),
    ("Pacific/Kiritimati", "2026-11-27T09:59:59+00:00", "2026-11-27"),  # UTC+14: 23:59:59
    ("Pacific/Kiritimati", "2026-11-27T10:00:00+00:00", "2026-11-28"),  # midnight, UTC still 27
    ("Etc/GMT+12", "2026-11-28T11:59:59+00:00", "2026-11-27"),  # UTC-12: UTC already on the 28th
    ("Etc/GMT+12", "2026-11-28T12:00:00+00:00", "2026-11-28"),
    ("Etc/GMT-12", "2026-11-27T11:59:59+00:00", "2026-11-27"),  # UTC+12
    ("Etc/GMT-12", "2026-11-27T12:00:00+00:00", "2026-11-28"),
    ("America/New_York", "2026-03-09T03:59:59+00:00", "2026-03-08"),  # EDT (UTC-4) from 8 March
    ("America/New_York", "2026-03-09T04:00:00+00:00", "2026-03-09"),
]


@pytest.mark.parametrize(
    ("timezone", "instant", "today"),
    PINNED_TODAYS,
    ids=[f"{tz}@{instant}" for tz, instant, _ in PINNED_TODAYS],
)
def test_start_date_boundary_is_today_in_the_org_timezone(
    tmp_path: Path, timezone: str, instant: str, today: str
) -> None:
    now = dt.datetime.fromisoformat(instant)
    day = dt.date.fromisoformat(today)
    tomorrow = day + dt.timedelta(days=1)

    accepted = sparky(start_date=today, timezone=f'"{timezone}"') + LOCAL
    assert load_config(write(tmp_path / "today", accepted), now=now).sparky.start_date == day

    refused = sparky(start_date=tomorrow.isoformat(), timezone=f'"{timezone}"') + LOCAL
    path = write(tmp_path / "tomorrow", refused)
    # The date as the file writes it (2026-11-28), not Python's datetime.date(2026, 11, 28).
    assert load_error(path, now) == (
        f"{path.resolve()}: [sparky].start_date = {tomorrow.isoformat()}: "
        f"expected a date that is not in the future (today is {today})"
    )


def test_pinned_clock_keeps_the_other_date_checks(tmp_path: Path) -> None:
    now = dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC)
    message = load_error(write(tmp_path, sparky(start_date="2024-01-01T10:00:00") + LOCAL), now)
    assert "[sparky].start_date" in message and "without a time" in message
    message = load_error(write(tmp_path, sparky(start_date='"2024-13-01"') + LOCAL), now)
    assert "expected a date written as YYYY-MM-DD" in message


def test_aliases_are_lowercased(tmp_path: Path) -> None:
    text = MINIMAL + '[identity]\naliases = { "Old@Example.COM" = "New@Example.com" }\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.identity.aliases == {"old@example.com": "new@example.com"}


def test_config_is_frozen(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    with pytest.raises(ValueError):
        cfg.sparky.timezone = "Europe/Berlin"  # type: ignore[misc]


# --- bad files: one problem, one line ------------------------------------------------------------

# (id, file text or None for "no file", substrings that must appear, substrings that must not)
BAD_CONFIGS = [
    ("missing-file", None, ["config file not found", "SPARKY_CONFIG"], []),
    ("invalid-toml", "[sparky\nstart_date = 2024-01-01\n", ["not valid TOML", "line 1"], []),
    ("empty-file", "", ["[sparky]", "required key is missing"], []),
    (
        "unknown-key-typo",
        sparky(timezon='"UTC"') + LOCAL,
        ["[sparky].timezon", "unknown key", "spelling"],
        [],
    ),
    (
        "unknown-section",
        MINIMAL + "[sparkyy]\nx = 1\n",
        ["[sparkyy]", "unknown key"],
        [],
    ),
    (
        "timezone-wrong-type",
        sparky(timezone="5") + LOCAL,
        ["[sparky].timezone = 5", "expected", "string"],
        [],
    ),
    (
        "timezone-unknown",
        sparky(timezone='"Mars/Olympus"') + LOCAL,
        ["[sparky].timezone = 'Mars/Olympus'", "expected an IANA time zone"],
        [],
    ),
    (
        "start-date-malformed",
        sparky(start_date='"2024-13-01"') + LOCAL,
        ["[sparky].start_date = '2024-13-01'", "expected a date written as YYYY-MM-DD"],
        [],
    ),
    (
        "start-date-with-time",
        sparky(start_date="2024-01-01T10:00:00") + LOCAL,
        ["[sparky].start_date", "2024", "without a time"],
        [],
    ),
    (
        "start-date-future",
        sparky(start_date=FUTURE.isoformat()) + LOCAL,
        ["[sparky].start_date", str(FUTURE.year), "expected a date that is not in the future"],
        [],
    ),
    (
        "start-date-missing",
        "[sparky]\n" + LOCAL,
        ["[sparky].start_date", "required key is missing"],
        [],
    ),
    (
        "data-dir-blank",
        sparky(data_dir='""') + LOCAL,
        ["[sparky].data_dir = ''", "expected a non-empty string"],
        [],
    ),
    (
        "llm-timeout-negative",
        MINIMAL + "[llm]\ntimeout_s = -1\n",
        ["[llm].timeout_s = -1", "expected", "greater than 0"],
        [],
    ),
    (
        "llm-timeout-too-long",
        MINIMAL + "[llm]\ntimeout_s = 99999\n",
        ["[llm].timeout_s = 99999", "expected", "less than or equal to 3600"],
        [],
    ),
    (
        "llm-max-concurrency-zero",
        MINIMAL + "[llm]\nmax_concurrency = 0\n",
        ["[llm].max_concurrency = 0", "expected", "greater than or equal to 1"],
        [],
    ),
    (
        "llm-base-url-invalid",
        MINIMAL + '[llm]\nbase_url = "not a url"\n',
        ["[llm].base_url = 'not a url'", "expected", "URL"],
        [],
    ),
    (
        "llm-model-blank",
        MINIMAL + '[llm]\nmodel = "  "\n',
        ["[llm].model = '  '", "expected a non-empty string"],
        [],
    ),
    (
        "github-api-url-scheme",
        MINIMAL + '[github]\napi_url = "ftp://example.com"\n',
        ["[github].api_url = 'ftp://example.com'", "expected", "'http' or 'https'"],
        [],
    ),
    (
        "local-repos-not-a-list",
        sparky() + '[local]\nrepos = "."\n',
        ["[local].repos = '.'", "expected", "list"],
        [],
    ),
    (
        "local-repos-blank-entry",
        sparky() + '[local]\nrepos = [" "]\n',
        ["[local].repos[0] = ' '", "expected a non-empty string"],
        [],
    ),
    (
        "publish-push-string",
        MINIMAL + '[publish]\npush = "yes"\n',
        ["[publish].push = 'yes'", "expected", "boolean"],
        [],
    ),
    (
        "github-org-invalid",
        sparky() + '[github]\norg = "bad org!"\n',
        ["[github].org = 'bad org!'", "expected a GitHub organization login"],
        [],
    ),
    (
        "github-org-leading-dash",
        sparky() + '[github]\norg = "-bad"\n',
        ["[github].org = '-bad'", "expected a GitHub organization login"],
        [],
    ),
    (
        "no-source",
        sparky(),
        ["[github].org", "[local].repos"],
        [],
    ),
    (
        "duplicate-clone-names",
        sparky() + '[local]\nrepos = ["a/x", "b/x.git"]\n',
        ["two clones share the name 'x'", "different names"],
        [],
    ),
    (
        "secret-in-github-section",
        MINIMAL + f'[github]\ntoken = "{SECRET}"\n',
        ["[github].token", "environment", "GITHUB_TOKEN"],
        [SECRET, "ghp_"],
    ),
    (
        "secret-at-top-level",
        f'github_token = "{SECRET}"\n' + MINIMAL,
        ["[github_token]", "environment"],
        [SECRET, "ghp_"],
    ),
    (
        "secret-as-table",
        MINIMAL + f'[llm.api_key]\nvalue = "{SECRET}"\n',
        ["[llm].api_key", "environment"],
        [SECRET, "ghp_"],
    ),
    (
        "secret-like-key-value-redacted",
        MINIMAL + '[identity]\naliases = { "password@example.com" = 5 }\n',
        ["[identity].aliases", "<redacted>", "expected"],
        ["= 5"],
    ),
    (
        "alias-not-an-email",
        MINIMAL + '[identity]\naliases = { "old" = "new@example.com" }\n',
        ["[identity].aliases", "'old'", "expected email -> email pairs"],
        [],
    ),
    (
        "alias-target-not-an-email",
        MINIMAL + '[identity]\naliases = { "old@example.com" = "new" }\n',
        ["[identity].aliases", "'new'", "expected email -> email pairs"],
        [],
    ),
]


@pytest.mark.parametrize(
    ("text", "must", "must_not"),
    [pytest.param(text, must, must_not, id=case) for case, text, must, must_not in BAD_CONFIGS],
)
def test_bad_config_gives_one_clear_line(
    tmp_path: Path, text: str | None, must: list[str], must_not: list[str]
) -> None:
    path = tmp_path / "sparky.toml" if text is None else write(tmp_path, text)

    message = load_error(path)

    assert message.startswith(f"{path.resolve()}: "), message
    for part in must:
        assert part in message, f"{part!r} not in {message!r}"
    for part in must_not:
        assert part not in message, f"{part!r} leaked into {message!r}"
    assert "\n" not in message, message
    assert "Traceback" not in message
    assert "For further information" not in message
    assert "errors.pydantic.dev" not in message


def test_secret_message_names_no_value_even_with_other_problems(tmp_path: Path) -> None:
    text = sparky(timezone='"Mars/Olympus"') + LOCAL + f'[github]\ntoken = "{SECRET}"\n'
    message = load_error(write(tmp_path, text))
    assert SECRET not in message
    assert "'Mars/Olympus'" in message
    assert len(message.splitlines()) == 2


def test_several_problems_give_several_lines(tmp_path: Path) -> None:
    text = (
        sparky(start_date='"nope"', timezone='"Mars/Olympus"', timezon='"UTC"')
        + LOCAL
        + "[llm]\ntimeout_s = -1\n"
        + '[publish]\npush = "yes"\n'
    )
    path = write(tmp_path, text)

    lines = load_error(path).splitlines()

    assert len(lines) == 5, lines
    assert all(line.startswith(f"{path.resolve()}: ") for line in lines), lines
    joined = "\n".join(lines)
    for key in (
        "[sparky].start_date",
        "[sparky].timezone",
        "[sparky].timezon",
        "[llm].timeout_s",
        "[publish].push",
    ):
        assert key in joined
    assert "For further information" not in joined


# --- where the file is and what relative paths mean ---------------------------------------------


def test_sparky_config_env_selects_the_file(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    chosen = write(tmp_path / "etc", sparky(timezone='"Europe/Berlin"') + LOCAL)
    decoy_dir = tmp_path / "cwd"
    write(decoy_dir, sparky(timezone='"Asia/Tokyo"') + LOCAL)
    monkeypatch.chdir(decoy_dir)
    monkeypatch.setenv(CONFIG_ENV, str(chosen))

    cfg = load_config()

    assert cfg.sparky.timezone == "Europe/Berlin"
    assert cfg.base_dir == chosen.parent.resolve()


def test_without_env_the_file_in_the_cwd_is_used(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, sparky(timezone='"Asia/Tokyo"') + LOCAL)
    monkeypatch.chdir(tmp_path)

    assert load_config().sparky.timezone == "Asia/Tokyo"


def test_sparky_config_env_pointing_nowhere_names_that_path(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    missing = tmp_path / "nowhere" / "sparky.toml"
    monkeypatch.setenv(CONFIG_ENV, str(missing))

    with pytest.raises(ConfigError) as excinfo:
        load_config()

    message = str(excinfo.value)
    assert str(missing.resolve()) in message
    assert "SPARKY_CONFIG" in message
    assert "\n" not in message


def test_relative_paths_resolve_against_the_config_folder(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    cfg_dir = tmp_path / "cfg"
    text = sparky(data_dir='"data"', output_dir='"../out"') + '[local]\nrepos = [".", "clones/a"]\n'
    path = write(cfg_dir, text)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    monkeypatch.chdir(elsewhere)
    monkeypatch.setenv(CONFIG_ENV, str(path))

    for cfg in (load_config(path), load_config()):
        base = cfg_dir.resolve()
        assert cfg.data_dir == base / "data"
        assert cfg.output_dir == tmp_path.resolve() / "out"
        assert cfg.local_repos == [base, base / "clones" / "a"]
        assert cfg.resolve("x/y") == base / "x" / "y"
        assert not str(cfg.data_dir).startswith(str(elsewhere.resolve()))


def test_relative_config_path_is_made_absolute(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path / "cfg", MINIMAL)
    monkeypatch.chdir(tmp_path)

    cfg = load_config("cfg/sparky.toml")
    monkeypatch.chdir("/")

    assert cfg.base_dir == (tmp_path / "cfg").resolve()
    assert cfg.data_dir == (tmp_path / "cfg" / "data").resolve()


def test_absolute_and_home_paths_are_kept(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    home = tmp_path / "home"
    monkeypatch.setenv("HOME", str(home))
    absolute = tmp_path / "abs" / "out"
    text = sparky(data_dir='"~/sparky-data"', output_dir=f'"{absolute.as_posix()}"') + LOCAL
    cfg = load_config(write(tmp_path / "cfg", text))

    assert cfg.data_dir == home.resolve() / "sparky-data"
    assert cfg.output_dir == absolute.resolve()


# --- OLLAMA_HOST -------------------------------------------------------------------------------


def test_ollama_url_defaults_to_the_file_value(tmp_path: Path) -> None:
    text = MINIMAL + '[llm]\nbase_url = "http://gpu-box:11434"\n'
    cfg = load_config(write(tmp_path, text))
    assert cfg.ollama_url.rstrip("/") == "http://gpu-box:11434"


def test_ollama_host_env_overrides_base_url(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    text = MINIMAL + '[llm]\nbase_url = "http://gpu-box:11434"\n'
    cfg = load_config(write(tmp_path, text))

    monkeypatch.setenv("OLLAMA_HOST", "http://ollama.internal:9999")
    assert cfg.ollama_url == "http://ollama.internal:9999"

    monkeypatch.setenv("OLLAMA_HOST", "")
    assert cfg.ollama_url.rstrip("/") == "http://gpu-box:11434"


# --- regressions: problems found in review, fixed -------------------------------------------


def test_duplicate_clone_message_names_the_key(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, sparky() + '[local]\nrepos = ["a/x", "b/x"]\n'))
    assert "[local].repos" in message


def test_duplicate_clone_check_ignores_the_cwd(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # The clones are <cfg> ("cfg") and <cfg>/other/work ("work"): distinct names.
    path = write(tmp_path / "cfg", sparky() + '[local]\nrepos = [".", "other/work"]\n')
    cwd = tmp_path / "work"
    cwd.mkdir()
    monkeypatch.chdir(cwd)  # from here "." would be named "work" if resolved against the cwd
    cfg = load_config(path)
    assert [p.name for p in cfg.local_repos] == ["cfg", "work"]


def test_base_dir_in_the_file_is_an_unknown_key(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, 'base_dir = "/etc"\n' + MINIMAL))
    assert "base_dir" in message


def test_url_scheme_message_keeps_url_capitalised(tmp_path: Path) -> None:
    message = load_error(write(tmp_path, MINIMAL + '[github]\napi_url = "ftp://example.com"\n'))
    assert "uRL" not in message


def test_paths_to_dot_git_folders_are_named_after_their_work_trees(tmp_path: Path) -> None:
    # Two clones given by their .git folders are two clones (alpha, beta), not two ".git".
    cfg = load_config(write(tmp_path, sparky() + '[local]\nrepos = ["alpha/.git", "beta/.git"]\n'))
    assert [repo_name(p) for p in cfg.local_repos] == ["alpha", "beta"]
    message = load_error(write(tmp_path, sparky() + '[local]\nrepos = ["a/x/.git", "b/x"]\n'))
    assert "two clones share the name 'x'" in message


def test_local_git_options(tmp_path: Path) -> None:
    cfg = load_config(
        write(
            tmp_path,
            sparky() + '[local]\nrepos = ["."]\ncount_unpushed = true\ngit_timeout_s = 30\n',
        )
    )
    assert (cfg.local.count_unpushed, cfg.local.git_timeout_s) == (True, 30.0)
    message = load_error(write(tmp_path, sparky() + '[local]\nrepos = ["."]\ngit_timeout_s = 0\n'))
    assert "[local].git_timeout_s = 0" in message and "greater than 0" in message


def test_github_max_wait(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + "[github]\nmax_wait_s = 60\n"))
    assert cfg.github.max_wait_s == 60.0
    message = load_error(write(tmp_path, MINIMAL + "[github]\nmax_wait_s = -1\n"))
    assert "[github].max_wait_s = -1" in message


# --- [publish] -----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("publish", "must"),
    [
        ('author_email = "nobody"', ["[publish].author_email = 'nobody'", "expected an email"]),
        ('subdir = "../up"', ["[publish].subdir = '../up'", "no '..'"]),
        ('subdir = "/abs"', ["[publish].subdir = '/abs'", "not absolute"]),
        ('branch = "a..b"', ["[publish].branch = 'a..b'", "git branch name"]),
        ('author_name = " "', ["[publish].author_name = ' '", "non-empty"]),
    ],
)
def test_bad_publish_values_name_the_key(tmp_path: Path, publish: str, must: list[str]) -> None:
    message = load_error(write(tmp_path, MINIMAL + f"[publish]\n{publish}\n"))
    assert "\n" not in message
    for part in must:
        assert part in message, message


def test_publish_remote_with_credentials_is_refused_without_showing_them(tmp_path: Path) -> None:
    text = MINIMAL + '[publish]\nremote = "https://user:s3cr3t-token@github.com/o/docs.git"\n'
    message = load_error(write(tmp_path, text))
    assert "[publish].remote" in message
    assert "secrets are not read from the config file" in message
    assert "s3cr3t-token" not in message
    assert "\n" not in message


def test_future_start_date_is_shown_as_written(tmp_path: Path) -> None:
    path = write(tmp_path, sparky(start_date="2099-01-01") + LOCAL)
    message = load_error(path, dt.datetime(2026, 11, 27, 12, tzinfo=dt.UTC))
    assert message == (
        f"{path.resolve()}: [sparky].start_date = 2099-01-01: "
        "expected a date that is not in the future (today is 2026-11-27)"
    )


CLASSIC = "0123456789abcdef0123456789abcdef01234567"  # a classic 40-hex token
# (remote, the secret part that must not be echoed)
CREDENTIAL_REMOTES = [
    ("git+https://ghp_R3alLook1ngT0kenF0rSparkyT3sts42@github.com/o/docs.git", "R3alLook1ng"),
    ("git+https://user:hunter2hunter2@github.com/o/docs.git", "hunter2hunter2"),
    ("https://ghp_R3alLook1ngT0kenF0rSparkyT3sts42@github.com/o/docs.git", "R3alLook1ng"),
    ("ssh://user:hunter2hunter2@host.example/docs.git", "hunter2hunter2"),
    ("ssh://git:hunter2hunter2@host.example:2222/docs.git", "hunter2hunter2"),
    ("git://user:hunter2hunter2@host.example/docs.git", "hunter2hunter2"),
    ("ftps://user:hunter2hunter2@host.example/docs.git", "hunter2hunter2"),
    ("ssh://github_pat_11ABCDEFG0123456789_abcdefXYZ@github.com/o/docs.git", "11ABCDEFG"),
    (f"ssh://{CLASSIC}@host.example/docs.git", CLASSIC[:12]),
    ("ssh://user:p%40ss%3Aw0rd123@host.example/docs.git", "ss%3Aw0rd123"),
    ("deploy:hunter2hunter2@host.example:o/docs.git", "hunter2hunter2"),
    ("ghs_R3alLook1ngT0kenF0rSparkyT3sts42@github.com:o/docs.git", "R3alLook1ng"),
]


@pytest.mark.parametrize(("remote", "secret"), CREDENTIAL_REMOTES)
def test_publish_remote_with_credentials_in_any_scheme_is_refused(
    tmp_path: Path, remote: str, secret: str
) -> None:
    message = load_error(write(tmp_path, MINIMAL + f'[publish]\nremote = "{remote}"\n'))
    assert "[publish].remote = " in message
    assert "secrets are not read from the config file" in message
    assert secret not in message
    assert "<redacted>@" in message
    assert "\n" not in message


@pytest.mark.parametrize(
    "remote",
    [
        "git@github.com:raibid-labs/docs.git",
        "ssh://git@github.com/raibid-labs/docs.git",
        "ssh://deploy@host.example:2222/srv/docs.git",
        "ssh://build-bot-for-docs-2024@host.example/docs.git",
        "docs-deploy@host.example:org/docs.git",
        "https://github.com/raibid-labs/docs.git",
        "git+ssh://git@github.com/raibid-labs/docs.git",
        "file:///srv/git/docs.git",
        "../remote.git",
    ],
)
def test_publish_remote_without_credentials_is_accepted(tmp_path: Path, remote: str) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + f'[publish]\nremote = "{remote}"\n'))
    assert cfg.publish.remote == remote


@pytest.mark.parametrize("repo", [".", "output", "data/site", "sub/deeper", ".."])
def test_publish_repo_inside_sparkys_work_tree_is_refused(tmp_path: Path, repo: str) -> None:
    own = tmp_path / "sparky"
    (own / ".git").mkdir(parents=True)
    cfg_dir = own / "conf"
    message = load_error(write(cfg_dir, MINIMAL + f'[publish]\nrepo = "{repo}"\n'))
    assert message.startswith(f"{(cfg_dir / 'sparky.toml').resolve()}: [publish].repo = '{repo}': ")
    assert str(own.resolve()) in message
    assert "[publish].remote" in message
    assert "\n" not in message


@pytest.mark.parametrize(("key", "repo"), [("output_dir", "out/site"), ("data_dir", "d")])
def test_publish_repo_inside_output_or_data_dir_is_refused(
    tmp_path: Path, key: str, repo: str
) -> None:
    text = sparky(output_dir='"out"', data_dir='"d"') + LOCAL + f'[publish]\nrepo = "{repo}"\n'
    message = load_error(write(tmp_path / "cfg", text))
    assert f"[publish].repo = '{repo}': inside [sparky].{key}" in message


def test_publish_target_outside_is_accepted(tmp_path: Path) -> None:
    own = tmp_path / "sparky"
    own.mkdir()
    (own / ".git").write_text("gitdir: elsewhere\n")  # a .git file counts too
    cfg = load_config(write(own, MINIMAL + '[publish]\nrepo = "../docs"\n'))
    assert cfg.publish_target == (tmp_path / "docs").resolve()
    refused = load_error(write(own, MINIMAL + '[publish]\nrepo = "docs"\n'))
    assert "inside Sparky's own work tree" in refused


def test_publish_remote_only_targets_a_clone_under_data_cache(tmp_path: Path) -> None:
    text = MINIMAL + '[publish]\nremote = "git@github.com:raibid-labs/docs.git"\n'
    cfg = load_config(write(tmp_path, text))
    target = cfg.publish_target
    assert target is not None
    assert target.parent == tmp_path.resolve() / "data" / "cache" / "publish"
    assert target.name.startswith("docs-")
    assert cfg.publish_remote == "git@github.com:raibid-labs/docs.git"
    local = load_config(write(tmp_path, MINIMAL + '[publish]\nremote = "../remote.git"\n'))
    assert local.publish_remote == str((tmp_path / ".." / "remote.git").resolve())
    assert local.publish_target != target


def test_shipped_sparky_toml_has_publishing_off() -> None:
    cfg = load_config(Path(__file__).parent.parent / "sparky.toml")
    assert cfg.publish_target is None
    assert cfg.publish.author_name == "Sparky"


# --- [identity].bot_patterns, [digest], [publish].site_url ---------------------------------------


def test_an_empty_bot_pattern_list_is_kept_empty(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + "[identity]\nbot_patterns = []\n"))
    assert cfg.identity.bot_patterns == []


def test_default_bot_patterns_are_whole_match_and_spare_common_names() -> None:
    compiled = [re.compile(p, re.IGNORECASE) for p in DEFAULT_BOT_PATTERNS]

    def matched(value: str) -> bool:
        return any(rx.fullmatch(value) for rx in compiled)

    for automation in ["build", "Build Server", "ci", "CI", "GitHub Action", "action", "jenkins"]:
        assert matched(automation), automation
    for person in ["chris", "cinthia", "bob builder", "jenkinson", "alice", "reaction", "ci ci"]:
        assert not matched(person), person
    # No default pattern matches an empty name (the check every configured pattern gets).
    assert not matched("")


# (id, file text, substrings that must appear)
BAD_NEW_KEYS = [
    (
        "pattern-does-not-compile",
        MINIMAL + '[identity]\nbot_patterns = ["ci", "(build"]\n',
        ["[identity].bot_patterns[1] = '(build'", "expected a regular expression", "missing )"],
    ),
    (
        "pattern-matches-everyone",
        MINIMAL + '[identity]\nbot_patterns = [".*"]\n',
        ["[identity].bot_patterns[0] = '.*'", "does not match an empty name"],
    ),
    (
        "pattern-blank",
        MINIMAL + '[identity]\nbot_patterns = ["  "]\n',
        ["[identity].bot_patterns[0] = '  '", "expected a non-empty regular expression"],
    ),
    (
        "pattern-not-a-list",
        MINIMAL + '[identity]\nbot_patterns = "ci"\n',
        ["[identity].bot_patterns = 'ci'", "expected a valid list"],
    ),
    (
        "review-wait-zero",
        MINIMAL + "[digest]\nreview_wait_days = 0\n",
        ["[digest].review_wait_days = 0", "expected a number greater than 0"],
    ),
    (
        "answer-wait-negative",
        MINIMAL + "[digest]\nanswer_wait_days = -1.5\n",
        ["[digest].answer_wait_days = -1.5", "expected a number greater than 0"],
    ),
    (
        "review-wait-over-a-year",
        MINIMAL + "[digest]\nreview_wait_days = 366\n",
        ["[digest].review_wait_days = 366", "less than or equal to 365"],
    ),
    (
        "answer-wait-nan",
        MINIMAL + "[digest]\nanswer_wait_days = nan\n",
        ["[digest].answer_wait_days = nan", "expected a finite number"],
    ),
    (
        "review-wait-string",
        MINIMAL + '[digest]\nreview_wait_days = "2"\n',
        ["[digest].review_wait_days = '2'", "expected a valid number"],
    ),
    (
        "review-wait-bool",
        MINIMAL + "[digest]\nreview_wait_days = true\n",
        ["[digest].review_wait_days = True", "expected a valid number"],
    ),
    (
        "digest-unknown-key",
        MINIMAL + "[digest]\nreview_days = 2\n",
        ["[digest].review_days", "unknown key"],
    ),
    (
        "site-url-not-http",
        MINIMAL + '[publish]\nsite_url = "ftp://example.org/digests"\n',
        ["[publish].site_url = 'ftp://example.org/digests'", "expected an http(s) URL"],
    ),
    (
        "site-url-relative",
        MINIMAL + '[publish]\nsite_url = "digests/"\n',
        ["[publish].site_url = 'digests/'", "expected an http(s) URL"],
    ),
    (
        "site-url-with-query",
        MINIMAL + '[publish]\nsite_url = "https://example.org/d?x=1"\n',
        ["[publish].site_url", "without '?query' or '#fragment'"],
    ),
]


@pytest.mark.parametrize(
    ("text", "must"), [pytest.param(text, must, id=case) for case, text, must in BAD_NEW_KEYS]
)
def test_bad_new_keys_name_the_key_and_the_problem(
    tmp_path: Path, text: str, must: list[str]
) -> None:
    path = write(tmp_path, text)
    message = load_error(path)
    assert message.startswith(f"{path.resolve()}: "), message
    for part in must:
        assert part in message, f"{part!r} not in {message!r}"
    assert "\n" not in message, message


def test_site_url_with_credentials_is_refused_without_showing_them(tmp_path: Path) -> None:
    path = write(tmp_path, MINIMAL + '[publish]\nsite_url = "https://me:hunter2@example.org/"\n')
    message = load_error(path)
    assert "[publish].site_url" in message
    assert "without a user or password" in message
    assert "hunter2" not in message


@pytest.mark.parametrize(
    ("written", "kept"),
    [
        ("https://example.org", "https://example.org"),
        ("https://example.org/", "https://example.org"),
        (
            "http://docs.example.org:8080/team/digests//",
            "http://docs.example.org:8080/team/digests",
        ),
    ],
)
def test_site_url_loses_its_trailing_slashes(tmp_path: Path, written: str, kept: str) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + f'[publish]\nsite_url = "{written}"\n'))
    assert cfg.publish.site_url == kept


def test_shipped_sparky_toml_documents_the_new_keys_at_their_defaults() -> None:
    cfg = load_config(Path(__file__).parent.parent / "sparky.toml")
    assert cfg.identity.bot_patterns == DEFAULT_BOT_PATTERNS
    assert (cfg.digest.review_wait_days, cfg.digest.answer_wait_days) == (2.0, 3.0)
    assert cfg.publish.site_url is None


def test_the_org_resource_carries_the_new_keys(tmp_path: Path) -> None:
    # Imported here: the definitions (and Dagster) load only for this test.
    from sparky_assets.defs.resources import build_resources

    text = (
        MINIMAL
        + '[identity]\nbot_patterns = ["ci-.*"]\n'
        + "[digest]\nreview_wait_days = 0.5\nanswer_wait_days = 10\n"
        + '[publish]\nsite_url = "https://example.org/d/"\n'
    )
    org = build_resources(load_config(write(tmp_path, text)))["org"]
    assert org.bot_patterns == ["ci-.*"]
    assert (org.review_wait_days, org.answer_wait_days) == (0.5, 10.0)
    assert org.site_url == "https://example.org/d"
    # Built by hand, the resource has the config's defaults.
    bare = OrgResource()
    assert bare.bot_patterns == DEFAULT_BOT_PATTERNS
    assert (bare.review_wait_days, bare.answer_wait_days, bare.site_url) == (2.0, 3.0, None)


# --- [teams] and [dora] (issue 20) ---------------------------------------------------------------

TEAMS_AND_DORA = """\
[teams]
from_github = true
[teams.platform]
repos = ["infra-*", "sparky"]
paths = ["deploy/", "*.tf", "/src/**/*.py", "docs/*"]
[teams.docs]
paths = ["docs/", "*.md"]
[teams.web_2]
repos = ["site"]
[teams.teams]
repos = ["x"]
[dora]
source = "deployments"
environment = "prod-eu"
tag_pattern = '^release-\\d{4}\\.\\d{2}$'
incident_labels = ["incident", "sev1"]
"""


def test_teams_and_dora_defaults(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL))
    assert cfg.teams.from_github is False
    assert cfg.teams.teams == {}
    assert cfg.dora.source == "releases"
    assert cfg.dora.environment == "production"
    assert cfg.dora.tag_pattern == r"^v?\d+(\.\d+)*$"
    assert cfg.dora.incident_labels == ["incident"]
    # The default tag pattern takes version tags and nothing else.
    pattern = re.compile(cfg.dora.tag_pattern)
    assert [
        t for t in ("v1.2.3", "2.0", "v10", "v1.2-rc1", "latest", "v") if pattern.search(t)
    ] == [
        "v1.2.3",
        "2.0",
        "v10",
    ]


def test_teams_and_dora_full_example(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + TEAMS_AND_DORA))
    assert cfg.teams.from_github is True
    teams = {name: (t.repos, t.paths) for name, t in cfg.teams.teams.items()}
    assert teams == {
        "platform": (["infra-*", "sparky"], ["deploy/", "*.tf", "/src/**/*.py", "docs/*"]),
        "docs": ([], ["docs/", "*.md"]),
        "web_2": (["site"], []),
        "teams": (["x"], []),  # a team may be called "teams": only from_github is special
    }
    assert cfg.dora.source == "deployments"
    assert cfg.dora.environment == "prod-eu"
    assert cfg.dora.tag_pattern == r"^release-\d{4}\.\d{2}$"
    assert cfg.dora.incident_labels == ["incident", "sev1"]


def test_teams_without_from_github_are_all_teams(tmp_path: Path) -> None:
    cfg = load_config(write(tmp_path, MINIMAL + '[teams.a]\nrepos = ["r"]\n'))
    assert cfg.teams.from_github is False
    assert list(cfg.teams.teams) == ["a"]


BAD_TEAMS_AND_DORA = [
    (
        "team-path-negation",
        '[teams.platform]\nrepos = ["api-*"]\npaths = ["src/", "!x"]\n',
        ["[teams.platform].paths[1] = '!x'", "negation"],
    ),
    (
        "team-path-range",
        '[teams.platform]\npaths = ["src/[ab]/"]\n',
        ["[teams.platform].paths[0] = 'src/[ab]/'", "character ranges"],
    ),
    (
        "team-path-escaped-hash",
        '[teams.platform]\npaths = ["\\\\#notes"]\n',
        ["[teams.platform].paths[0]", "leading '#'"],
    ),
    (
        "team-path-blank",
        '[teams.platform]\npaths = [" "]\n',
        ["[teams.platform].paths[0] = ' '", "non-empty"],
    ),
    (
        "team-repo-blank",
        '[teams.platform]\nrepos = [""]\n',
        ["[teams.platform].repos[0] = ''", "non-empty"],
    ),
    (
        "team-owns-nothing",
        "[teams.platform]\nrepos = []\n",
        ["[teams.platform]", "at least one of repos or paths"],
    ),
    (
        "team-name-uppercase",
        '[teams.Platform]\nrepos = ["x"]\n',
        ["[teams.Platform]", "GitHub team slug"],
    ),
    (
        "team-name-leading-dash",
        '[teams."-web"]\nrepos = ["x"]\n',
        ["[teams.-web]", "GitHub team slug"],
    ),
    (
        "team-unknown-key",
        '[teams.platform]\nrepo = ["x"]\n',
        ["[teams.platform].repo", "unknown key"],
    ),
    (
        "team-not-a-table",
        "[teams]\nfrom_gitub = true\n",
        ["[teams.from_gitub] = True", "expected a table", "from_github"],
    ),
    (
        "from-github-not-bool",
        '[teams]\nfrom_github = "yes"\n',
        ["[teams].from_github = 'yes'", "boolean"],
    ),
    (
        "dora-source",
        '[dora]\nsource = "deploys"\n',
        ["[dora].source = 'deploys'", "'deployments', 'releases' or 'tags'"],
    ),
    (
        "dora-environment-blank",
        '[dora]\nenvironment = ""\n',
        ["[dora].environment = ''", "non-empty"],
    ),
    (
        "dora-tag-pattern",
        "[dora]\ntag_pattern = '^v(\\d+$'\n",
        ["[dora].tag_pattern = '^v(\\\\d+$'", "regular expression", "missing )"],
    ),
    (
        "dora-incident-label-blank",
        '[dora]\nincident_labels = ["incident", " "]\n',
        ["[dora].incident_labels[1] = ' '", "non-empty"],
    ),
    (
        "dora-unknown-key",
        '[dora]\nenvironments = ["production"]\n',
        ["[dora].environments", "unknown key"],
    ),
]


@pytest.mark.parametrize(
    ("text", "must"),
    [pytest.param(text, must, id=case) for case, text, must in BAD_TEAMS_AND_DORA],
)
def test_bad_teams_and_dora_values_name_the_key(tmp_path: Path, text: str, must: list[str]) -> None:
    path = write(tmp_path, MINIMAL + text)
    message = load_error(path)
    assert message.startswith(f"{path.resolve()}: "), message
    for part in must:
        assert part in message, f"{part!r} not in {message!r}"
    assert "\n" not in message, message


def test_shipped_sparky_toml_has_teams_and_dora_at_their_defaults() -> None:
    cfg = load_config(Path(__file__).parent.parent / "sparky.toml")
    assert (cfg.teams.from_github, cfg.teams.teams) == (False, {})
    assert (cfg.dora.source, cfg.dora.environment) == ("releases", "production")
    assert cfg.dora.tag_pattern == r"^v?\d+(\.\d+)*$"
    assert cfg.dora.incident_labels == ["incident"]


def test_the_org_resource_carries_teams_and_dora(tmp_path: Path) -> None:
    from sparky_assets.defs.resources import build_resources

    org = build_resources(load_config(write(tmp_path, MINIMAL + TEAMS_AND_DORA)))["org"]
    assert org.teams == {
        "platform": {
            "repos": ["infra-*", "sparky"],
            "paths": ["deploy/", "*.tf", "/src/**/*.py", "docs/*"],
        },
        "docs": {"repos": [], "paths": ["docs/", "*.md"]},
        "web_2": {"repos": ["site"], "paths": []},
        "teams": {"repos": ["x"], "paths": []},
    }
    assert org.teams_from_github is True
    assert org.dora_source == "deployments"
    assert org.dora_environment == "prod-eu"
    assert org.dora_tag_pattern == r"^release-\d{4}\.\d{2}$"
    assert org.dora_incident_labels == ["incident", "sev1"]
    # Built by hand, or from a file without the sections: the config's defaults.
    default = build_resources(load_config(write(tmp_path / "d", MINIMAL)))["org"]
    for org in (OrgResource(), default):
        assert (org.teams, org.teams_from_github) == ({}, False)
        assert (org.dora_source, org.dora_environment) == ("releases", "production")
        assert org.dora_tag_pattern == r"^v?\d+(\.\d+)*$"
        assert org.dora_incident_labels == ["incident"]


@pytest.mark.parametrize(
    "glob", ["docs/", "*.md", "/src/**/*.py", "docs/*", "!x", "src/[ab]/", "\\#notes", "/", "a/**"]
)
def test_team_path_check_agrees_with_the_team_matcher(tmp_path: Path, glob: str) -> None:
    """config.py checks path globs without importing sparky_assets; it must refuse exactly what
    lib/teams.py's matcher refuses, so no glob passes the config and then fails a run."""
    from sparky_assets.lib.teams import UnsupportedPattern, _compile

    try:
        _compile(glob)
        matcher_ok = True
    except UnsupportedPattern:
        matcher_ok = False
    text = MINIMAL + f"[teams.t]\npaths = ['{glob}']\n"
    try:
        load_config(write(tmp_path, text))
        config_ok = True
    except ConfigError as exc:
        assert "[teams.t].paths[0]" in str(exc)
        config_ok = False
    assert config_ok == matcher_ok


# --- [[deliver]] -------------------------------------------------------------------------------

SLACK_URL = "https://hooks.slack.com/services/T000/B000/XXXXsecretXXXX"


def test_deliver_targets_are_named_and_default_to_every_period(tmp_path: Path) -> None:
    text = MINIMAL + (
        '[[deliver]]\nkind = "slack"\nurl_env = "SLACK_URL"\n'
        '[[deliver]]\nkind = "email"\nname = "leads"\nsmtp_host = "smtp.example.org"\n'
        'from = "sparky@example.org"\nto = ["a@example.org", "b@example.org"]\n'
        'password_env = "SMTP_PASSWORD"\nperiods = ["weekly"]\nteams = ["platform"]\n'
    )
    cfg = load_config(write(tmp_path, text))
    slack, mail = cfg.deliver_targets
    assert (slack.name, slack.periods, slack.teams) == (
        "slack-1",
        ["daily", "weekly", "monthly"],
        None,
    )
    assert (mail.name, mail.sender, mail.to, mail.smtp_port) == (
        "leads",
        "sparky@example.org",
        ["a@example.org", "b@example.org"],
        587,
    )
    assert mail.teams == ["platform"] and mail.periods == ["weekly"]


@pytest.mark.parametrize(
    ("entry", "must"),
    [
        (f'kind = "slack"\nurl_env = "{SLACK_URL}"', ["[deliver][0].url_env = <redacted>", "NAME"]),
        ('kind = "discord"', ["[deliver][0]", "url_env"]),
        ('kind = "email"\nsmtp_host = "h"\nto = ["a@b.c"]', ["[deliver][0]", "from"]),
        ('kind = "teams"\nurl_env = "X"', ["[deliver][0].kind"]),
        ('kind = "slack"\nurl_env = "X"\nperiods = ["hourly"]', ["[deliver][0].periods[0]"]),
        ('kind = "slack"\nurl_env = "X"\nperiods = []', ["[deliver][0].periods"]),
        ('kind = "slack"\nurl_env = "X"\nsmtp_host = "h"', ["[deliver][0]", "email targets"]),
        (f'kind = "slack"\nurl = "{SLACK_URL}"', ["[deliver][0].url", "unknown key"]),
        (
            'kind = "email"\nsmtp_host = "h"\nfrom = "not-an-address"\nto = ["a@b.c"]',
            ["[deliver][0]"],
        ),
        ('kind = "slack"\nurl_env = "X"\nname = "Eng Chat"', ["[deliver][0].name"]),
    ],
)
def test_bad_deliver_entries_name_the_key_and_never_echo_a_url(
    tmp_path: Path, entry: str, must: list[str]
) -> None:
    message = load_error(write(tmp_path, MINIMAL + f"[[deliver]]\n{entry}\n"))
    for part in must:
        assert part in message, message
    assert "XXXXsecretXXXX" not in message and "hooks.slack.com" not in message


def test_two_deliver_targets_cannot_share_a_name(tmp_path: Path) -> None:
    text = MINIMAL + (
        '[[deliver]]\nkind = "slack"\nurl_env = "A"\nname = "chat"\n'
        '[[deliver]]\nkind = "discord"\nurl_env = "B"\nname = "chat"\n'
    )
    assert "two targets are named 'chat'" in load_error(write(tmp_path, text))
