"""Standard Dagster tooling on Sparky, as a user runs it: subprocesses, a real DAGSTER_HOME."""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import shutil
import subprocess
import sys
from pathlib import Path
from zoneinfo import ZoneInfo

from gitrepo import KnownHistory

BIN = Path(sys.executable).parent
ROOT = Path(__file__).resolve().parent.parent


def sparky_env(config: Path, home: Path) -> dict[str, str]:
    home.mkdir(parents=True, exist_ok=True)
    return {**os.environ, "SPARKY_CONFIG": str(config), "DAGSTER_HOME": str(home)}


def write_config(folder: Path, repos: list[Path], timezone: str = "Asia/Tokyo") -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    path = folder / "sparky.toml"
    listed = ", ".join(json.dumps(str(r)) for r in repos)
    path.write_text(
        f'[sparky]\ntimezone = "{timezone}"\nstart_date = 2024-05-01\n'
        f"[local]\nrepos = [{listed}]\n",
        encoding="utf-8",
    )
    return path


def midday_zone(now: dt.datetime) -> str:
    """An org timezone where `now` is between 12:00 and 13:00, so that a test that must read the
    wall clock (Dagster's own, in a subprocess) is hours away from the org's midnight."""
    offset = 12 - now.astimezone(dt.UTC).hour  # -11 ... +12 hours
    return "UTC" if offset == 0 else f"Etc/GMT{-offset:+d}"  # POSIX sign: Etc/GMT-3 is UTC+3


def sparky_cli(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    """The `sparky` console script the justfile runs."""
    return subprocess.run(
        [str(BIN / "sparky"), *args], env=env, capture_output=True, text=True, timeout=120, cwd=ROOT
    )


def materialize(env: dict[str, str], *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(BIN / "dagster"), "asset", "materialize", "-m", "sparky_assets.definitions", *args],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=ROOT,
    )


def test_materialize_from_the_cli_with_another_config(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path])
    proc = materialize(
        sparky_env(config, tmp_path / "home"),
        "--select",
        "repositories,raw_commits,daily_metrics",
        "--partition",
        "2024-06-03",
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    # Tokyo's June 3 is [June 2 15:00Z, June 3 15:00Z): zoe_midnight (22:15Z June 2, +2 lines),
    # alice_app (13:00Z, +12) and zoe_feature (14:00Z, +1 -1, 2 files); Bob's 23:30Z is June 4.
    document = json.loads((tmp_path / "cfg/data/raw/raw_commits/2024-06-03.json").read_text())
    assert document["schema_version"] == 2
    raw = document["records"]
    s = known.shas
    assert {r["sha"] for r in raw} == {s["zoe_midnight"], s["alice_app"], s["zoe_feature"]}
    metrics = json.loads(
        (tmp_path / "cfg/data/processed/daily_metrics/2024-06-03.json").read_text()
    )
    assert (
        metrics["commits"],
        metrics["lines_added"],
        metrics["lines_deleted"],
        metrics["active_contributors"],
        metrics["files_changed"],
    ) == (3, 15, 1, 2, 5)


def test_partition_outside_the_range_is_refused(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path])
    proc = materialize(
        sparky_env(config, tmp_path / "home"),
        "--select",
        "raw_commits",
        "--partition",
        "2020-01-01",
    )
    assert proc.returncode != 0
    assert "partition key `2020-01-01`" in proc.stderr
    assert not (tmp_path / "cfg/data").exists()


def test_missing_config_is_one_clear_line(tmp_path: Path) -> None:
    proc = materialize(
        sparky_env(tmp_path / "absent.toml", tmp_path / "home"),
        "--select",
        "raw_commits",
        "--partition",
        "2024-06-03",
    )
    assert proc.returncode != 0
    last = proc.stderr.strip().splitlines()[-1]
    assert "absent.toml: config file not found (set SPARKY_CONFIG" in last


def test_recent_range_prints_the_last_days_for_the_cli(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path], timezone="Pacific/Kiritimati")
    env = sparky_env(config, tmp_path / "home")
    # Kiritimati is UTC+14: its 2026-11-28 begins at 10:00Z on the 27th.
    for now, expected in [
        ("2026-11-27T09:59:59Z", "2026-11-21...2026-11-27"),
        ("2026-11-27T10:00:00Z", "2026-11-22...2026-11-28"),
        ("2026-11-27T23:30:00-12:00", "2026-11-23...2026-11-29"),  # 11:30Z on the 28th
    ]:
        proc = sparky_cli(env, "range", "--last", "7", "--now", now)
        assert (proc.returncode, proc.stdout.strip(), proc.stderr) == (0, expected, ""), now


def test_recent_range_without_now_reads_the_clock_in_the_org_timezone(
    known: KnownHistory, tmp_path: Path
) -> None:
    zone = midday_zone(dt.datetime.now(dt.UTC))
    config = write_config(tmp_path / "cfg", [known.path], timezone=zone)
    proc = subprocess.run(
        [sys.executable, "-m", "sparky_assets.cli", "range", "--last", "7"],
        env=sparky_env(config, tmp_path / "home"),
        capture_output=True,
        text=True,
        check=True,
    )
    today = dt.datetime.now(ZoneInfo(zone)).date()
    week_ago = today - dt.timedelta(days=6)
    assert proc.stdout.strip() == f"{week_ago:%Y-%m-%d}...{today:%Y-%m-%d}"


def test_now_without_an_offset_is_refused(known: KnownHistory, tmp_path: Path) -> None:
    config = write_config(tmp_path / "cfg", [known.path])
    proc = sparky_cli(sparky_env(config, tmp_path / "home"), "range", "--now", "2026-11-27T12:00")
    assert proc.returncode == 2
    assert "--now: expected an ISO 8601 instant with a UTC offset" in proc.stderr
    assert "Traceback" not in proc.stderr


# --- sparky check-partition: one line for a key outside the daily partitions ------------------

# Asia/Tokyo (UTC+9), start_date 2024-05-01. At 15:00Z on 2026-11-27 it is 00:00 on the 28th in
# Tokyo (still the 27th in UTC); one second earlier it is still the 27th there.
TOKYO_MIDNIGHT = "2026-11-27T15:00:00Z"
TOKYO_BEFORE_MIDNIGHT = "2026-11-27T14:59:59Z"


def check_partition(
    known: KnownHistory, tmp_path: Path, key: str, now: str | None, timezone: str = "Asia/Tokyo"
) -> subprocess.CompletedProcess[str]:
    config = write_config(tmp_path / "cfg", [known.path], timezone=timezone)
    args = ["check-partition", key, *(["--now", now] if now else [])]
    return sparky_cli(sparky_env(config, tmp_path / "home"), *args)


def refused(proc: subprocess.CompletedProcess[str]) -> str:
    """The one line on stderr of a refused key (exit 2, nothing on stdout)."""
    assert proc.returncode == 2, (proc.returncode, proc.stderr)
    assert proc.stdout == ""
    lines = proc.stderr.splitlines()
    assert len(lines) == 1, proc.stderr
    return lines[0]


def test_check_partition_before_start_date(known: KnownHistory, tmp_path: Path) -> None:
    proc = check_partition(known, tmp_path, "2024-04-30", TOKYO_MIDNIGHT)
    assert refused(proc) == (
        "sparky: partition 2024-04-30 is outside the daily partitions "
        "(2024-05-01 ... 2026-11-28, timezone Asia/Tokyo)"
    )


def test_check_partition_after_today_in_the_org_timezone(
    known: KnownHistory, tmp_path: Path
) -> None:
    # The 28th is Tokyo's tomorrow one second before its midnight, though UTC is on the 27th ...
    proc = check_partition(known, tmp_path / "a", "2026-11-28", TOKYO_BEFORE_MIDNIGHT)
    assert refused(proc) == (
        "sparky: partition 2026-11-28 is outside the daily partitions "
        "(2024-05-01 ... 2026-11-27, timezone Asia/Tokyo)"
    )
    # ... and Tokyo's today (partial, end_offset=1) from its midnight on.
    proc = check_partition(known, tmp_path / "b", "2026-11-28", TOKYO_MIDNIGHT)
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", "")
    proc = check_partition(known, tmp_path / "c", "2026-11-29", TOKYO_MIDNIGHT)
    assert "partition 2026-11-29 is outside" in refused(proc)
    # UTC-12: at 11:59:59Z on the 28th it is still the 27th there.
    proc = check_partition(
        known, tmp_path / "d", "2026-11-28", "2026-11-28T11:59:59Z", "Etc/GMT+12"
    )
    assert refused(proc) == (
        "sparky: partition 2026-11-28 is outside the daily partitions "
        "(2024-05-01 ... 2026-11-27, timezone Etc/GMT+12)"
    )


def test_check_partition_malformed_key(known: KnownHistory, tmp_path: Path) -> None:
    for i, key in enumerate(["2024-13-45", "2024-6-3", "06/03/2024"]):
        proc = check_partition(known, tmp_path / str(i), key, TOKYO_MIDNIGHT)
        assert refused(proc) == (
            f"sparky: partition {key!r} is not a date written as YYYY-MM-DD "
            "(daily partitions 2024-05-01 ... 2026-11-28, timezone Asia/Tokyo)"
        )


def test_check_partition_valid_keys(known: KnownHistory, tmp_path: Path) -> None:
    for i, key in enumerate(["2024-05-01", "2024-06-03", "2026-11-27", "2026-11-28"]):
        proc = check_partition(known, tmp_path / str(i), key, TOKYO_MIDNIGHT)
        assert (proc.returncode, proc.stdout, proc.stderr) == (0, "", ""), key


def test_check_partition_reads_the_clock_without_now(known: KnownHistory, tmp_path: Path) -> None:
    # Keys far from any today, so the wall clock cannot change the answer.
    proc = check_partition(known, tmp_path / "a", "2024-06-03", None)
    assert (proc.returncode, proc.stderr) == (0, "")
    proc = check_partition(known, tmp_path / "b", "2099-01-01", None)
    line = refused(proc)
    assert line.startswith(
        "sparky: partition 2099-01-01 is outside the daily partitions (2024-05-01"
    )
    assert line.endswith(", timezone Asia/Tokyo)")


def test_check_partition_with_a_bad_config_is_one_line(tmp_path: Path) -> None:
    proc = sparky_cli(
        sparky_env(tmp_path / "absent.toml", tmp_path / "home"), "check-partition", "2024-06-03"
    )
    assert "absent.toml: config file not found (set SPARKY_CONFIG" in refused(proc)


def test_just_day_refuses_a_bad_partition_before_dagster(
    known: KnownHistory, tmp_path: Path
) -> None:
    config = write_config(tmp_path / "cfg", [known.path])
    for key, message in [
        ("1999-01-01", "sparky: partition 1999-01-01 is outside the daily partitions (2024-05-01"),
        ("2024-13-45", "sparky: partition '2024-13-45' is not a date written as YYYY-MM-DD"),
    ]:
        proc = subprocess.run(
            [str(BIN / "just"), "day", key],
            cwd=ROOT,
            env=sparky_env(config, tmp_path / "home"),
            capture_output=True,
            text=True,
            timeout=120,
        )
        assert proc.returncode == 2, proc.stderr[-2000:]
        assert proc.stderr.splitlines()[0].startswith(message), proc.stderr
        assert "Traceback" not in proc.stderr
        assert "sparky launch" not in proc.stderr  # the run was never started
    assert not (tmp_path / "cfg/data").exists()


def test_dg_check_defs() -> None:
    proc = subprocess.run(
        [str(BIN / "dg"), "check", "defs"], cwd=ROOT, capture_output=True, text=True, timeout=300
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    assert "All definitions loaded successfully." in proc.stdout + proc.stderr


def test_just_demo_materializes_recent_days_and_lists_the_digests(
    known: KnownHistory, tmp_path: Path
) -> None:
    # A clone whose newest commit is today, so the demo's window has real numbers. The commit
    # is made upstream and fetched: unpushed local commits do not count by default.
    upstream = tmp_path / "upstream"
    shutil.copytree(known.path, upstream)
    (upstream / "new.txt").write_text("one\ntwo\nthree\n", encoding="utf-8")
    instant = dt.datetime.now(dt.UTC)
    now = instant.isoformat(timespec="seconds")
    # Dagster reads the wall clock: an org timezone where it is midday keeps the run (and the
    # commit made just now) hours away from the org's midnight, at any time of day.
    zone = midday_zone(instant)
    env = {
        **os.environ,
        "GIT_CONFIG_GLOBAL": os.devnull,
        "GIT_AUTHOR_NAME": "Tess Today",
        "GIT_AUTHOR_EMAIL": "tess@example.com",
        "GIT_COMMITTER_NAME": "Tess Today",
        "GIT_COMMITTER_EMAIL": "tess@example.com",
        "GIT_AUTHOR_DATE": now,
        "GIT_COMMITTER_DATE": now,
    }
    subprocess.run(["git", "-C", str(upstream), "add", "-A"], check=True, env=env)
    subprocess.run(["git", "-C", str(upstream), "commit", "-qm", "today"], check=True, env=env)
    clone = tmp_path / "today"
    subprocess.run(["git", "clone", "-q", str(upstream), str(clone)], check=True)
    config = write_config(tmp_path / "cfg", [clone], timezone=zone)

    proc = subprocess.run(
        [str(BIN / "just"), "demo", "2"],
        cwd=ROOT,
        env=sparky_env(config, tmp_path / "home"),
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert proc.returncode == 0, proc.stderr[-2000:]
    today = instant.astimezone(ZoneInfo(zone)).date()
    assert dt.datetime.now(ZoneInfo(zone)).date() == today
    days = [today - dt.timedelta(days=1), today]
    listed = proc.stdout.strip().splitlines()[-2:]
    assert listed == [str(tmp_path / "cfg/output/daily" / f"{d:%Y-%m-%d}.md") for d in days]
    digest = Path(listed[-1]).read_text(encoding="utf-8")
    assert "| Commits | 1 |" in digest and "| Lines added | 3 |" in digest
    assert "Partial day" in digest
    assert (tmp_path / "home/dagster.yaml").read_text() == "telemetry:\n  enabled: false\n"
    # The run is the named job, logged at INFO: no DEBUG event stream to dig through.
    assert " - daily_digest_job - " in proc.stderr
    assert " - DEBUG - " not in proc.stderr and "SupersessionWarning" not in proc.stderr
    # One run for the range, a run of the code location `sparky` (the UI can re-execute it).
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(tmp_path / "home"))) as instance:
        (run,) = instance.get_runs()
    assert run.is_success
    assert run.tags["dagster/asset_partition_range_start"] == f"{days[0]:%Y-%m-%d}"
    assert run.tags["dagster/asset_partition_range_end"] == f"{days[-1]:%Y-%m-%d}"
    assert run.remote_job_origin is not None and run.remote_job_origin.location_name == "sparky"


def test_workspace_and_dg_project_name_the_same_code_location() -> None:
    import tomllib

    import yaml

    workspace = yaml.safe_load((ROOT / "workspace.yaml").read_text())
    (entry,) = workspace["load_from"]
    project = tomllib.loads((ROOT / "pyproject.toml").read_text())["tool"]["dg"]["project"]
    assert entry["python_module"] == {
        "module_name": project["code_location_target_module"],
        "location_name": project["code_location_name"],
    }
    assert project["code_location_name"] == "sparky"


def test_window_prints_the_days_of_a_week_or_month(known: KnownHistory, tmp_path: Path) -> None:
    env = sparky_env(write_config(tmp_path / "cfg", [known.path]), tmp_path / "home")

    def window(*args: str) -> subprocess.CompletedProcess[str]:
        return sparky_cli(env, "window", *args, "--now", TOKYO_MIDNIGHT)

    # By hand: Monday 2024-06-03 to Sunday 06-09; June has 30 days.
    assert window("weekly", "2024-06-03").stdout == "2024-06-03...2024-06-09\n"
    assert window("monthly", "2024-06-01").stdout == "2024-06-01...2024-06-30\n"
    # Clamped: start_date is Wednesday 2024-05-01; Tokyo's today is 2026-11-28 (a Saturday).
    assert window("weekly", "2024-04-29").stdout == "2024-05-01...2024-05-05\n"
    assert window("weekly", "2026-11-23").stdout == "2026-11-23...2026-11-28\n"
    assert refused(window("weekly", "2024-06-04")) == (
        "sparky: weekly key 2024-06-04 is not a Monday"
    )
    assert "has no daily partitions" in refused(window("monthly", "2027-01-01"))


def test_window_names_the_days_before_start_date(known: KnownHistory, tmp_path: Path) -> None:
    """Days before [sparky].start_date are no daily partition: no later run collects them, and
    `sparky window` (what `just weekly` / `just monthly` run first) says so."""
    env = sparky_env(write_config(tmp_path / "cfg", [known.path]), tmp_path / "home")

    def window(*args: str) -> subprocess.CompletedProcess[str]:
        return sparky_cli(env, "window", *args, "--now", TOKYO_MIDNIGHT)

    # start_date is Wednesday 2024-05-01: Monday 04-29 and Tuesday 04-30 come before it.
    proc = window("weekly", "2024-04-29")
    assert (proc.returncode, proc.stdout) == (0, "2024-05-01...2024-05-05\n")
    assert proc.stderr == (
        "sparky: the weekly window 2024-04-29 starts before [sparky].start_date 2024-05-01: "
        "2024-04-29 ... 2024-04-30 will never be collected (not a daily partition; set an "
        "earlier start_date to include them)\n"
    )
    # A window wholly before start_date is refused, and says waiting will not help.
    assert refused(window("monthly", "2024-04-01")) == (
        "sparky: the monthly window 2024-04-01 is all before [sparky].start_date 2024-05-01: "
        "2024-04-01 ... 2024-04-30 will never be collected (not a daily partition; set an "
        "earlier start_date to include them)"
    )
    # A window after start_date: nothing on stderr.
    assert window("weekly", "2024-06-03").stderr == ""


def test_sparky_help_describes_every_subcommand() -> None:
    from sparky_assets.cli import _parser

    (commands,) = [a for a in _parser()._actions if isinstance(a, argparse._SubParsersAction)]
    names = list(commands.choices)
    assert {"launch", "range", "digests", "check-partition", "window"} <= set(names)
    proc = subprocess.run(
        [str(BIN / "sparky"), "--help"], capture_output=True, text=True, timeout=60, check=True
    )
    lines = proc.stdout.splitlines()
    for name in names:
        # argparse lists `name  help`, or the name alone and its help on the next line, indented
        # further; a subcommand without help is not listed at all.
        found = [i for i, line in enumerate(lines) if line.split()[:1] == [name]]
        assert len(found) == 1, (name, proc.stdout)
        line = lines[found[0]]
        text = line.split(None, 1)[1] if len(line.split()) > 1 else ""
        if not text:
            after = lines[found[0] + 1]
            indent = len(line) - len(line.lstrip())
            if len(after) - len(after.lstrip()) > indent:
                text = after.strip()
        assert text, (name, proc.stdout)
        sub = subprocess.run(
            [str(BIN / "sparky"), name, "--help"], capture_output=True, text=True, timeout=60
        )
        assert sub.returncode == 0, sub.stderr
        assert commands.choices[name].description, name  # `sparky NAME --help` says what it does


def test_digests_prints_one_digest_path(known: KnownHistory, tmp_path: Path) -> None:
    env = sparky_env(write_config(tmp_path / "cfg", [known.path]), tmp_path / "home")
    weekly = tmp_path / "cfg/output/weekly/2024-06-03.md"
    weekly.parent.mkdir(parents=True)
    weekly.write_text("# week\n", encoding="utf-8")
    proc = sparky_cli(env, "digests", "--week", "2024-06-03")
    assert (proc.returncode, proc.stdout, proc.stderr) == (0, f"{weekly}\n", "")
    proc = sparky_cli(env, "digests", "--day", "2024-06-03")
    assert (proc.returncode, proc.stdout) == (1, "")
    assert proc.stderr == f"sparky: no daily digest 2024-06-03 in {tmp_path / 'cfg/output'}\n"
    assert refused(sparky_cli(env, "digests", "--month", "2024-06-02")) == (
        "sparky: monthly digest key '2024-06-02' is not the 1st of a month written as YYYY-MM-DD"
    )
    assert "is not a date" in refused(sparky_cli(env, "digests", "--day", "../../etc/x"))


def test_sparky_launch_refuses_in_one_line(known: KnownHistory, tmp_path: Path) -> None:
    """What cannot start a run is one line and exit 2, before any run is created."""
    config = write_config(tmp_path / "cfg", [known.path])
    home = tmp_path / "home"
    env = sparky_env(config, home)
    no_home = {k: v for k, v in env.items() if k != "DAGSTER_HOME"}
    proc = subprocess.run(
        [str(BIN / "sparky"), "launch", "--job", "daily_digest_job", "--partition", "2024-06-03"],
        env=no_home, capture_output=True, text=True, timeout=120, cwd=ROOT,
    )  # fmt: skip
    assert refused(proc).startswith("sparky launch: DAGSTER_HOME is not set: the run would go")
    for args, line in [
        (["--job", "nope"], "sparky launch: no job 'nope' in code location 'sparky' (jobs: "),
        (
            ["--job", "daily_digest_job", "--partition-range", "2024-06-04...2024-06-03"],
            "sparky launch: partition range 2024-06-04...2024-06-03 is empty: 2024-06-04 is "
            "after 2024-06-03",
        ),
        (
            ["--job", "daily_digest_job", "--partition-range", "2024-06-03"],
            "sparky launch: partition range '2024-06-03' is not written FIRST...LAST",
        ),
        (
            ["--job", "digest_freshness_job", "--partition", "2024-06-03"],
            "sparky launch: digest_freshness_job has no partitions: launch it without a partition",
        ),
        (
            ["--job", "daily_digest_job", "--partition", "2020-01-01"],
            "sparky launch: daily_digest_job: Could not find a partition with key `2020-01-01`",
        ),
    ]:
        assert refused(sparky_cli(env, "launch", *args)).startswith(line), args
    from dagster import DagsterInstance
    from dagster._core.instance.ref import InstanceRef

    with DagsterInstance.from_ref(InstanceRef.from_dir(str(home))) as instance:
        assert instance.get_runs() == []


def test_sparky_launch_says_a_bad_secret_or_config_in_one_line(
    known: KnownHistory, tmp_path: Path
) -> None:
    """A token saved with a stray byte (or any config problem) stops the definitions from
    loading; the recipes' launcher says the one line, not Dagster's component-tree tracebacks,
    and never the token."""
    config = write_config(tmp_path / "cfg", [known.path])
    config.write_text(
        config.read_text(encoding="utf-8") + '[github]\norg = "acme"\n', encoding="utf-8"
    )
    token = "ghp_Launch\rTokenPiece1234567890"
    env = {**sparky_env(config, tmp_path / "home"), "GITHUB_TOKEN": token}
    proc = sparky_cli(env, "launch", "--job", "daily_digest_job", "--partition", "2024-06-03")
    assert "Launch" not in proc.stdout + proc.stderr and "TokenPiece" not in proc.stderr
    assert refused(proc) == (
        "sparky launch: GITHUB_TOKEN contains a control character (carriage return, position 11); "
        "re-save it without it"
    )
    env["GITHUB_TOKEN"] = "ghp_fine"
    config.write_text(config.read_text(encoding="utf-8") + "[sparky]\n", encoding="utf-8")
    line = refused(sparky_cli(env, "launch", "--job", "daily_digest_job"))
    assert line.startswith("sparky launch: ") and "sparky.toml" in line, line
